package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/ptft-lab/ptft/experiments"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/provenance"
	"github.com/ptft-lab/ptft/workbench/rossmann"
)

func runRossmann(args []string, stdout io.Writer) error {
	def := rossmann.DefaultConfig()
	fs := flag.NewFlagSet("rossmann", flag.ContinueOnError)
	dir := fs.String("data", "", "folder with the binned Rossmann files (default: $PTFT_DATA)")
	k := fs.Int("instances", def.Instances, "K: the first K stores in file column order")
	n := fs.Int("obs", def.Obs, "N: days drawn per store (the Poisson mean with --poisson-obs)")
	pois := fs.Bool("poisson-obs", false, "draw N_k ~ Poisson(N) per store (zeros redrawn)")
	runs := fs.Int("runs", def.Runs, "independent runs")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	ratio := fs.Float64("critical-ratio", def.Ratio, "s: the critical ratio")
	methods := fs.String("methods", "saa,pooled-saa,shrunken-saa,shrunken-saa-uniform,eb,eb-ml,transformer",
		"methods to compare (saa is always included); the diagnostics known-shape-shift and known-shape-scale know each store's full-history distribution but its location or level")
	modelDir := fs.String("model", "", "transformer: model folder (default: the shipped results/models/default)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	out := fs.String("out", "", "write the table (or JSON) to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	path, err := rossmann.ResolveDir(*dir)
	if err != nil {
		return err
	}
	d, err := rossmann.Load(path)
	if err != nil {
		return err
	}
	// The known-shape diagnostics need the full histories, which only this
	// command has; every other name goes to the one method resolver.
	var names []string
	var diagnostics []baseline.Policy
	for _, name := range splitList(*methods) {
		if i := slices.Index(rossmann.KnownShapeNames, name); i >= 0 {
			diagnostics = append(diagnostics, rossmann.KnownShape{Data: d, Scale: i == 1})
		} else {
			names = append(names, name)
		}
	}
	others, err := policies(names, *modelDir)
	if err != nil {
		return err
	}
	pols := []baseline.Policy{baseline.SAA{}}
	for _, p := range append(others, diagnostics...) {
		if p.Name() != "saa" {
			pols = append(pols, p)
		}
	}
	cfg := rossmann.Config{Instances: *k, Obs: *n, PoissonObs: *pois, Runs: *runs, Ratio: *ratio, Seed: *seed}
	res, err := rossmann.Run(d, cfg, pols)
	if err != nil {
		return err
	}
	return emit(*out, stdout, func(w io.Writer) error {
		if *asJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		nDesc := fmt.Sprintf("N = %d", cfg.Obs)
		if cfg.PoissonObs {
			nDesc = fmt.Sprintf("N_k ~ Poisson(%d)", cfg.Obs)
		}
		fmt.Fprintf(w, "Rossmann benchmark: K = %d stores, d = %d bins, %s, s = %g, %d runs, seed %d (ptft %s)\n\n",
			cfg.Instances, d.Bins(), nDesc, cfg.Ratio, cfg.Runs, cfg.Seed, provenance.CodeVersion())
		t := experiments.NewTable("method", "benefit over SAA", "± s.e.", "mean cost", "± s.e.", "sec/run")
		for _, r := range res.Rows {
			benSE, costSE := "-", "-" // one run has no standard error
			if cfg.Runs > 1 {
				benSE, costSE = fmt.Sprintf("%.2f%%", 100*r.BenefitSE), fmt.Sprintf("%.2f", r.CostSE)
			}
			t.Row(r.Method, fmt.Sprintf("%.2f%%", 100*r.Benefit), benSE,
				fmt.Sprintf("%.2f", r.Cost), costSE, fmt.Sprintf("%.3f", r.Seconds))
		}
		if err := t.Write(w); err != nil {
			return err
		}
		for _, r := range res.Rows {
			if r.Method == "shrunken-saa" {
				fmt.Fprintf(w, "\nshrunken-saa mean chosen alpha: %.2f\n", res.MeanAlpha)
			}
		}
		return nil
	})
}
