// Package kernels installs ptft's float32 matrix-product kernel into GoMLX
// v0.26.0's pure-Go backend (simplego).
//
// Why it exists: simplego runs DotGeneral in scalar Go loops, at 4 to 7
// GFLOP/s on one core of the development machine, and matrix products
// were about half of a training step. ptft's kernel packs both operands
// into panels and runs an AVX2+FMA assembly micro-kernel (6x16 tile) over
// them, with a pure-Go micro-kernel of the same shape where the CPU lacks
// AVX2 or FMA (chosen at run time with golang.org/x/sys/cpu; no
// GOEXPERIMENT, no GOAMD64 level).
//
// What GoMLX internals it touches (all in backends/simplego, v0.26.0):
//   - the per-op executor table nodeExecutors, through //go:linkname: its
//     OpTypeDotGeneral entry is replaced; every other entry is untouched;
//   - (*Backend).getBufferForShape, through //go:linkname, to take output
//     buffers from the backend's pool like the stock executors do;
//   - the unexported fields Node.shape, Node.data, Buffer.shape and
//     Buffer.flat, and the fields of the DotGeneral node data (axes and
//     sizes), read at offsets found by reflection.
//
// Install verifies all of that first (the table entry is the stock
// execDotGeneral; field names, kinds, types and the data's type name; a
// probe graph's DotGeneral node carries the axes it was built with; a
// buffer from the pool has the asked shape) and refuses, keeping the stock
// executor and logging one line, on any mismatch. PTFT_STOCK_KERNELS=1
// turns the kernels off. Layouts and dtypes the kernel does not handle go
// to the stock executor.
//
// Delete this package when ptft moves to a GoMLX release whose pure-Go
// backend has SIMD matrix products of its own (v0.28 has them; the module
// proxy serves only v0.26.0 here).
package kernels

import (
	"fmt"
	"log"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// DisableEnvVar turns the kernels off when set to 1 (or true); set to a
// comma-separated list of op names (DotGeneral, Add, Sub, Mul, Div,
// BroadcastInDim, ReduceSum, ReduceMax, Exp, Erf) it keeps GoMLX's
// executors for those ops only (for per-kernel measurements).
const DisableEnvVar = "PTFT_STOCK_KERNELS"

// stockOps parses DisableEnvVar: all reports every op off.
func stockOps(v string) (all bool, ops map[string]bool, err error) {
	v = strings.TrimSpace(v)
	switch v {
	case "", "0", "false":
		return false, nil, nil
	case "1", "true":
		return true, nil, nil
	}
	known := map[string]bool{}
	for _, r := range replacements {
		known[r.op.String()] = true
	}
	ops = map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if !known[name] {
			return true, nil, fmt.Errorf("%s=%q: unknown op %q (want 1, or op names among %s)", DisableEnvVar, v, name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
		ops[name] = true
	}
	return false, ops, nil
}

var (
	installOnce sync.Once
	installErr  error
	active      atomic.Bool
)

// Install replaces the pure-Go backend's float32 DotGeneral executor by
// ptft's, once per process. It returns nil when the kernels are active,
// or the reason they are not (DisableEnvVar set, or the GoMLX internals
// differ from what the kernels were written for); in that case stock
// behaviour is kept and one log line says why.
func Install() error {
	installOnce.Do(func() {
		all, keep, err := stockOps(os.Getenv(DisableEnvVar))
		if err != nil {
			installErr = fmt.Errorf("ptft kernels not installed: %w", err)
			log.Print(installErr)
			return
		}
		if all {
			installErr = fmt.Errorf("ptft kernels off: %s=%s", DisableEnvVar, os.Getenv(DisableEnvVar))
			return
		}
		if err := verifyInternals(); err != nil {
			installErr = fmt.Errorf("ptft kernels not installed, GoMLX pure-Go backend kept as it is: %w", err)
			log.Print(installErr)
			return
		}
		for _, r := range replacements {
			if !keep[r.op.String()] {
				nodeExecutors[r.op] = r.make(stockExecutors[r.op])
			}
		}
		active.Store(true)
	})
	return installErr
}

// Active reports whether ptft's kernels run now.
func Active() bool { return active.Load() }

// SetActive switches installed kernels on or off at run time (for tests
// and A/B measurements); it returns the previous state. Before a
// successful Install it does nothing and returns false.
func SetActive(on bool) bool {
	if installErr != nil || stockDotGeneral == nil {
		return false
	}
	return active.Swap(on)
}

// Describe names the kernel in use, for provenance and benchmarks.
func Describe() string {
	switch {
	case !Active():
		return "stock"
	case useAsm:
		return "ptft-avx2fma"
	default:
		return "ptft-go"
	}
}
