package experiments

import (
	"bytes"
	stdcontext "context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NotebookScaleVar chooses the scale notebooks run at: "quick" (the
// default: each experiment's quick grid, a few minutes on 2 cores) or
// "full" (the documented grid, resuming the committed raw results).
const NotebookScaleVar = "PTFT_NOTEBOOK_SCALE"

// NotebookQuick reports whether notebooks should run the quick grid.
func NotebookQuick() (bool, error) {
	switch v := os.Getenv(NotebookScaleVar); v {
	case "", "quick":
		return true, nil
	case "full":
		return false, nil
	default:
		return false, fmt.Errorf("$%s = %q: want quick or full", NotebookScaleVar, v)
	}
}

// RepoRoot finds the root of the ptft repository from the working
// directory upwards (a notebook runs in notebooks/).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/ptft-lab/ptft\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the ptft repository (no go.mod of github.com/ptft-lab/ptft above the working directory)")
		}
		dir = parent
	}
}

// Markdown is the table Report writes, without its figure links, for
// display in a notebook.
func Markdown(e *Experiment, recs []Record, o ReportOptions) (string, error) {
	if o.RawDir == "" {
		o.RawDir = "results/raw"
	}
	var b bytes.Buffer
	err := writeMarkdown(&b, e, o, recs, Summarize(e, recs), nil)
	return b.String(), err
}

// Figures renders each group's figure ("svg" or "png"), in report order.
func Figures(e *Experiment, recs []Record, format string) ([][]byte, error) {
	sums := Summarize(e, recs)
	var out [][]byte
	for _, g := range groups(sums) {
		var b bytes.Buffer
		if err := renderFigure(&b, format, e, g, sums, e.overlay(recs, sums, g)); err != nil {
			return nil, err
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}

// Show displays an experiment's records in a notebook: the Markdown table
// through markdown, then every figure, as PNG, through png (GoNB's
// gonbui.DisplayMarkdown and gonbui.DisplayPNG).
func Show(e *Experiment, recs []Record, o ReportOptions, markdown func(string), png func([]byte)) error {
	if len(recs) == 0 {
		return fmt.Errorf("%s: no results to show", e.Name)
	}
	md, err := Markdown(e, recs, o)
	if err != nil {
		return err
	}
	markdown(md)
	figs, err := Figures(e, recs, "png")
	if err != nil {
		return err
	}
	for _, f := range figs {
		png(f)
	}
	return nil
}

// NotebookRun runs experiment name at the notebook scale (NotebookQuick)
// and shows its table and figures. The quick grid runs into a fresh
// temporary folder, so the output reflects this run; the full grid runs
// into the repository's results/raw, resuming (or simply reading) the
// committed sweep.
func NotebookRun(name string, markdown func(string), png func([]byte)) error {
	e, err := Lookup(name)
	if err != nil {
		return err
	}
	quick, err := NotebookQuick()
	if err != nil {
		return err
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	useSharedData(root)
	dir, label := filepath.Join(root, "results", "raw"), "results/raw"
	if quick {
		if dir, err = os.MkdirTemp("", "ptft-"+name+"-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		label = "$TMPDIR"
	}
	s, err := Run(stdcontext.Background(), e, RunOptions{Quick: quick, Dir: dir})
	if err != nil {
		return err
	}
	scale := "full"
	if quick {
		scale = "quick"
	}
	markdown(fmt.Sprintf("*%s, %s grid: %d cells, %d run now in %.0f s, %d already done.*", e.Name, scale, s.Cells, s.Ran, s.Seconds, s.Skipped))
	recs, err := ReadRaw(dir, e.Name, quick)
	if err != nil {
		return err
	}
	return Show(e, recs, ReportOptions{RawDir: label, Quick: quick}, markdown, png)
}

// NotebookCommitted shows the full-scale results committed in the
// repository's results/raw (those of results/<name>.md).
func NotebookCommitted(name string, markdown func(string), png func([]byte)) error {
	e, err := Lookup(name)
	if err != nil {
		return err
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	recs, err := ReadRaw(filepath.Join(root, "results", "raw"), e.Name, false)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("no committed results for %s in results/raw: run `ptft run %s`", e.Name, e.Name)
	}
	return Show(e, recs, ReportOptions{RawDir: "results/raw"}, markdown, png)
}

// useSharedData points PTFT_DATA at the shared/data folder beside the
// repository (the CI layout) when it is unset and that folder exists.
func useSharedData(root string) {
	if os.Getenv("PTFT_DATA") != "" {
		return
	}
	d := filepath.Join(filepath.Dir(root), "shared", "data")
	if _, err := os.Stat(filepath.Join(d, "rossmann")); err == nil {
		os.Setenv("PTFT_DATA", d)
	}
}
