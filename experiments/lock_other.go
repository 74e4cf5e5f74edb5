//go:build !unix

package experiments

// lockRaw does not lock on this system: run one process per raw file.
func lockRaw(string) (func(), error) { return func() {}, nil }
