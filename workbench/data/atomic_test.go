package data

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no 'true' command to get a dead pid from")
	}
	return cmd.Process.Pid
}

// TestWriteFilesAtomicRollsForwardAfterAKill builds the state a kill
// between the two renames leaves (journal written, first file renamed,
// second not) and checks that the next write of the pair, or
// RecoverFiles, finishes it: both files new, no hidden files left.
func TestWriteFilesAtomicRollsForwardAfterAKill(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "obs.csv"), filepath.Join(dir, "truth.json")
	if err := WriteFilesAtomic(Output{a, writeString("old a")}, Output{b, writeString("old b")}); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(deadPID(t))
	ta, tb := filepath.Join(dir, ".obs.csv.tmp-"+pid+"-1"), filepath.Join(dir, ".truth.json.tmp-"+pid+"-2")
	os.WriteFile(ta, []byte("new a"), 0o644)
	os.WriteFile(tb, []byte("new b"), 0o644)
	j, _ := json.Marshal(journal{Renames: [][2]string{{ta, a}, {tb, b}}})
	os.WriteFile(journalPath(a), j, 0o644)
	os.Rename(ta, a) // killed here
	if read(t, a) != "new a" || read(t, b) != "old b" {
		t.Fatal("setup")
	}
	if err := RecoverFiles(a, b); err != nil {
		t.Fatal(err)
	}
	if read(t, a) != "new a" || read(t, b) != "new b" {
		t.Errorf("after recovery: %q, %q; want both new", read(t, a), read(t, b))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files left: %v", entries)
	}
}

// TestStaleTemporaryFilesAreRemoved: a killed write's temporary file
// (its process gone) is removed by the next write of the same path; a
// live process's is kept.
func TestStaleTemporaryFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "q.csv")
	stale := filepath.Join(dir, ".q.csv.tmp-"+strconv.Itoa(deadPID(t))+"-123")
	live := filepath.Join(dir, ".q.csv.tmp-"+strconv.Itoa(os.Getppid())+"-456")
	os.WriteFile(stale, []byte("half"), 0o644)
	os.WriteFile(live, []byte("busy"), 0o644)
	if err := WriteFileAtomic(out, writeString("done")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a dead process's temporary file was left")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live process's temporary file was removed")
	}
}
