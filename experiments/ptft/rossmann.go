package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ptft-lab/ptft/experiments"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/problem"
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
	bins := fs.Int("bins", rossmann.DefaultBins, "d: the support size of the files to read (Gupta & Kallus publish 20, 50 and 1000)")
	export := fs.String("export", "", "instead of the benchmark, write each run's data as CSV files into this folder (run-<r>/obs.csv, support.csv, truth.json) for ptft decide --support and ptft evaluate")
	if err := parse(fs, args); err != nil {
		return err
	}
	path, err := rossmann.ResolveDir(*dir)
	if err != nil {
		return err
	}
	d, err := rossmann.LoadBins(path, *bins)
	if err != nil {
		return err
	}
	if *export != "" {
		cfg := rossmann.Config{Instances: *k, Obs: *n, PoissonObs: *pois, Runs: *runs, Ratio: *ratio, Seed: *seed}
		return exportRossmann(d, cfg, *export, stdout)
	}
	// The known-shape diagnostics read the full histories: the resolver
	// gets the data.
	others, err := experiments.Methods(splitList(*methods), experiments.MethodOptions{Model: *modelDir, Rossmann: d})
	if errors.Is(err, baseline.ErrUnknownMethod) {
		return fmt.Errorf("%w: --methods: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	pols := []baseline.Policy{baseline.SAA{}}
	for _, p := range others {
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
			if r.BenefitSE != nil && r.CostSE != nil {
				benSE, costSE = fmt.Sprintf("%.2f%%", 100**r.BenefitSE), fmt.Sprintf("%.2f", *r.CostSE)
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

// exportRossmann writes each run's draws, the stores' supports and their
// full-history distributions as files the other commands read.
func exportRossmann(d *rossmann.Data, cfg rossmann.Config, dir string, stdout io.Writer) error {
	if cfg.Runs < 1 || cfg.Obs < 1 {
		return fmt.Errorf("%w: --runs %d and --obs %d must be >= 1", errUsage, cfg.Runs, cfg.Obs)
	}
	if err := data.CheckRatio(cfg.Ratio); err != nil {
		return fmt.Errorf("%w: --critical-ratio: %v", errUsage, err)
	}
	for r := range cfg.Runs {
		p, truths, err := rossmann.Sample(d, cfg, r)
		if err != nil {
			return err
		}
		run := filepath.Join(dir, fmt.Sprintf("run-%d", r))
		if err := os.MkdirAll(run, 0o755); err != nil {
			return err
		}
		t := &data.TruthFile{Provenance: provenance.New(fmt.Sprintf("rossmann --export (run %d)", r), cfg.Seed, "none"),
			Problem: problem.Newsvendor{}.Name(), Prior: "rossmann-full-history", PriorVersion: fmt.Sprintf("d=%d", d.Bins())}
		for s, tr := range truths {
			t.Instances = append(t.Instances, data.TruthInstance{ID: p.IDs[s], Ratio: p.Ratios[s], Dist: tr.Spec()})
		}
		if err := data.WriteSupportFile(filepath.Join(run, "support.csv"), p); err != nil {
			return err
		}
		if err := data.WriteObservationsAndTruth(filepath.Join(run, "obs.csv"), p, filepath.Join(run, "truth.json"), t); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "exported %d runs of K = %d stores (d = %d, seed %d) -> %s\n", cfg.Runs, cfg.Instances, d.Bins(), cfg.Seed, dir)
	return nil
}
