package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteFileAtomic writes path through a temporary file in the same folder,
// renamed into place only when write and close succeed: a failed or killed
// run never leaves a half-written output. Temporary files that killed
// runs left for the same path are removed first.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return WriteFilesAtomic(Output{Path: path, Write: write})
}

// Output is one file of WriteFilesAtomic.
type Output struct {
	Path  string
	Write func(io.Writer) error
}

// WriteFilesAtomic writes several files that belong together (an
// observations CSV and its truth file) so that a kill leaves either all
// old files or, once the next call for the same first path (or
// RecoverFiles) has run, all new ones: every file is written to a
// temporary file first; then a journal listing the renames is written
// beside the first file, the renames are made and the journal removed. A
// journal found later is rolled forward.
func WriteFilesAtomic(outs ...Output) (err error) {
	if len(outs) == 0 {
		return nil
	}
	paths := make([]string, len(outs))
	for i, o := range outs {
		paths[i] = o.Path
	}
	if err := RecoverFiles(paths...); err != nil {
		return err
	}
	tmps := make([]string, 0, len(outs))
	defer func() {
		if err != nil {
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}()
	for _, o := range outs {
		tmp, err := writeTemp(o.Path, o.Write)
		if tmp != "" {
			tmps = append(tmps, tmp)
		}
		if err != nil {
			return err
		}
	}
	if len(outs) == 1 {
		return os.Rename(tmps[0], outs[0].Path)
	}
	j := journal{}
	for i, o := range outs {
		j.Renames = append(j.Renames, [2]string{tmps[i], o.Path})
	}
	jpath := journalPath(outs[0].Path)
	jtmp, err := writeTemp(jpath, func(w io.Writer) error { return json.NewEncoder(w).Encode(j) })
	if err != nil {
		return err
	}
	// Renamed into place, the journal exists whole or not at all.
	if err := os.Rename(jtmp, jpath); err != nil {
		os.Remove(jtmp)
		return err
	}
	return j.apply(jpath)
}

// journal lists the renames (temporary file, final path) of one
// WriteFilesAtomic call.
type journal struct {
	Renames [][2]string `json:"renames"`
}

func (j journal) apply(jpath string) error {
	for _, r := range j.Renames {
		if err := os.Rename(r[0], r[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Remove(jpath)
}

func journalPath(first string) string {
	dir, base := filepath.Split(first)
	return filepath.Join(dir, "."+base+".commit")
}

// RecoverFiles finishes a WriteFilesAtomic of these paths that a kill
// interrupted between its renames, and removes temporary files that dead
// processes left for them.
func RecoverFiles(paths ...string) error {
	if len(paths) == 0 {
		return nil
	}
	jpath := journalPath(paths[0])
	if raw, err := os.ReadFile(jpath); err == nil {
		var j journal
		if err := json.Unmarshal(raw, &j); err != nil {
			return fmt.Errorf("%s: unreadable journal of an interrupted write: %w", jpath, err)
		}
		if err := j.apply(jpath); err != nil {
			return fmt.Errorf("%s: finishing an interrupted write: %w", jpath, err)
		}
	}
	for _, p := range append(paths, jpath) {
		removeStaleTemps(p)
	}
	return nil
}

// writeTemp writes a temporary file for path, named
// .<base>.tmp-<pid>-<random>, and returns its name.
func writeTemp(path string, write func(io.Writer) error) (name string, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file private; outputs are ordinary files.
	if err = tmp.Chmod(0o644); err != nil {
		return "", err
	}
	if err = write(tmp); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return "", err
	}
	if err = tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

// removeStaleTemps removes path's temporary files whose writing process
// is gone.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	prefix := "." + base + ".tmp-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}
