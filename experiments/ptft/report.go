package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ptft-lab/ptft/experiments"
)

// runReport is `ptft report [E1 E2 ...|all] [--quick] [--merge]`.
func runReport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "report the quick grid's raw results (results/<E>-quick.md)")
	dir := fs.String("dir", "results/raw", "raw results folder")
	out := fs.String("out", "results", "folder for the tables (figures go to its figures/ subfolder)")
	merge := fs.Bool("merge", false, "first merge each experiment's shard files into <E>.jsonl (and remove them)")
	noPNG := fs.Bool("no-png", false, "write SVG figures only")
	var names []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		names, args = append(names, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	var exps []*experiments.Experiment
	if len(names) == 0 || (len(names) == 1 && names[0] == "all") {
		for _, e := range experiments.All() {
			if files, _ := experiments.RawFiles(*dir, e.Name, *quick); len(files) > 0 || len(names) == 0 {
				exps = append(exps, e)
			}
		}
	} else {
		for _, n := range names {
			e, err := experiments.Lookup(n)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			exps = append(exps, e)
		}
	}
	reported := 0
	for _, e := range exps {
		if files, err := experiments.RawFiles(*dir, e.Name, *quick); err != nil {
			return err
		} else if len(files) == 0 && len(names) == 0 {
			continue // `ptft report` with no names reports what exists
		}
		if *merge {
			path, n, err := experiments.Merge(*dir, e.Name, *quick)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "merged %d cells into %s\n", n, path)
		}
		files, err := experiments.Report(e, experiments.ReportOptions{RawDir: *dir, OutDir: *out, Quick: *quick, NoPNG: *noPNG})
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintln(stdout, f)
		}
		reported++
	}
	if reported == 0 {
		return fmt.Errorf("no raw results in %s: run `ptft run E1` (or another experiment) first", *dir)
	}
	return nil
}
