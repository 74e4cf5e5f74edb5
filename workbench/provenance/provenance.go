// Package provenance records what produced a results file: the ptft version,
// the Go toolchain, the backend and the configuration and seed of the run.
package provenance

import (
	"runtime"
	"runtime/debug"
)

// Version is the ptft release this tree builds; CodeVersion adds the VCS
// revision when the binary was built with VCS stamping.
const Version = "0.1.0-dev"

// CodeVersion returns Version, plus "+<revision>" (and "-dirty") when the
// build info carries a VCS revision.
func CodeVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return Version + "+" + rev
}

// Record is the provenance block written into every results file.
type Record struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	// Backend is the compute backend ("go", "xla:cpu", ...); "none" for
	// purely classical computations.
	Backend string `json:"backend"`
	Seed    uint64 `json:"seed"`
	// Config names the experiment, prior or command that produced the file.
	Config string `json:"config"`
}

// New returns a Record for this binary.
func New(config string, seed uint64, backend string) Record {
	return Record{Version: CodeVersion(), GoVersion: runtime.Version(), Backend: backend, Seed: seed, Config: config}
}
