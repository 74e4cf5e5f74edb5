package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ptft-lab/ptft/experiments"
	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

func runSuite(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	out := fs.String("out", "", "write the table to this file (default: standard output)")
	seeds := fs.Int("seeds", 3, "environments per family and K")
	seed := fs.Uint64("seed", 1, "base seed")
	ks := fs.String("instances", "100,1000", "values of K")
	quiet := fs.Bool("quiet", false, "no progress lines on standard error")
	add := fs.String("add", "", "more methods to run beside the suite's own, e.g. transformer@./my-model (a candidate model)")
	finetuned := fs.Bool("finetuned", false, "also finetune the default model on every portfolio (transformer-finetuned; slow: minutes per K = 1,000 cell)")
	ftSteps := fs.Int("finetune-steps", 100, "finetuning steps of --finetuned")
	stress := fs.Bool("stress", false, "run the stress families (portfolios of two sales levels) instead of the suite's")
	outside := fs.Bool("outside", false, "run the outside families (the suite's kinds of data at other parameters) instead of the suite's")
	wholeUnits := fs.Bool("whole-units", false, "record every day in whole units: round each observation to the nearest whole number before the methods see it (the truths stay as drawn)")
	if err := parse(fs, args); err != nil {
		return err
	}
	kv, err := parseInts(*ks)
	if err != nil {
		return fmt.Errorf("%w: --instances: %v", errUsage, err)
	}
	if slices.Min(kv) < 2 {
		return fmt.Errorf("%w: --instances: K = %d; a portfolio needs at least 2 instances", errUsage, slices.Min(kv))
	}
	if *seeds < 1 {
		return fmt.Errorf("%w: --seeds %d must be at least 1", errUsage, *seeds)
	}
	var log io.Writer = os.Stderr
	if *quiet {
		log = nil
	}
	methods := append(slices.Clone(experiments.SuiteMethods), splitList(*add)...)
	if *finetuned {
		methods = append(methods, "transformer-finetuned")
	}
	if *stress && *outside {
		return fmt.Errorf("%w: --stress and --outside each replace the suite's families; give one", errUsage)
	}
	if *ftSteps < 1 {
		return fmt.Errorf("%w: --finetune-steps %d must be at least 1", errUsage, *ftSteps)
	}
	if _, err := experiments.Methods(splitList(*add), experiments.MethodOptions{}); errors.Is(err, baseline.ErrUnknownMethod) {
		return fmt.Errorf("%w: --add: %v", errUsage, err)
	}
	o := experiments.SuiteOptions{Instances: kv, Seeds: *seeds, Seed: *seed, Methods: methods, FinetuneSteps: *ftSteps, WholeUnits: *wholeUnits}
	if *stress {
		o.Families, o.Title = experiments.StressFamilies(), "Stress families"
	}
	if *outside {
		o.Families, o.Title = experiments.OutsideFamilies(), "Outside families"
	}
	res, err := experiments.RunSuite(o, log)
	if err != nil {
		return err
	}
	// With --out, the figure goes to figures/ beside the table (SVG and PNG).
	figure := ""
	if *out != "" {
		base := strings.TrimSuffix(filepath.Base(*out), filepath.Ext(*out))
		dir := filepath.Join(filepath.Dir(*out), "figures")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, format := range []string{"svg", "png"} {
			img, err := experiments.SuiteFigure(res, format)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, base+"-gap."+format)
			if err := data.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(img); return err }); err != nil {
				return err
			}
		}
		figure = "figures/" + base + "-gap.png"
	}
	return emit(*out, stdout, func(w io.Writer) error { return experiments.WriteSuite(w, res, figure) })
}
