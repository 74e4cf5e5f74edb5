package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/ptft-lab/ptft/experiments"

	"gonum.org/v1/gonum/stat"

	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/provenance"
	"github.com/ptft-lab/ptft/workbench/train"
)

type scaleRow struct {
	K        int     `json:"instances"`
	Method   string  `json:"method"`
	Regret   float64 `json:"relative_regret"`
	RegretSE float64 `json:"regret_se"`
	Seconds  float64 `json:"seconds"`
}

// runScale is the pretrain / finetune / scratch comparison across K on a
// true environment that differs from the pretraining prior (DESIGN.md §5).
func runScale(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	truth := fs.String("truth-prior", "truth-heavy-tail", "true environment generator (a prior name or JSON file)")
	ks := fs.String("instances", "10,30,100,300,1000", "values of K")
	obs := fs.String("obs", "5", "observations per instance: n or min-max")
	seeds := fs.Int("seeds", 3, "environments (seeds) per K")
	seed := fs.Uint64("seed", 1, "random seed")
	methods := fs.String("methods", "transformer,transformer-scratch,transformer-finetuned,shrunken-saa,eb", "methods")
	modelDir := fs.String("model", "", "pretrained model (default: the shipped model)")
	steps := fs.Int("steps", 300, "finetuning steps (finetuned and scratch)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	out := fs.String("out", "", "write the table (or JSON) to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := prior.Lookup(*truth)
	if err != nil {
		return err
	}
	kv, err := parseInts(*ks)
	if err != nil {
		return fmt.Errorf("%w: --instances: %v", errUsage, err)
	}
	n, err := parseIntRange(*obs)
	if err != nil {
		return fmt.Errorf("%w: --obs: %v", errUsage, err)
	}
	if *seeds < 2 {
		return fmt.Errorf("%w: --seeds must be >= 2 (standard errors)", errUsage)
	}
	pols, err := policies(*methods, *modelDir)
	if err != nil {
		return err
	}
	for _, pol := range pols {
		if f, ok := pol.(*train.FinetunedPolicy); ok {
			f.Options.Steps = *steps
		}
	}
	var rows []scaleRow
	rng := rand.New(rand.NewPCG(*seed, 1))
	for _, k := range kv {
		regrets := make([][]float64, len(pols))
		secs := make([]float64, len(pols))
		for range *seeds {
			env, err := p.Generate(rng.Uint64(), prior.Options{Instances: k, Obs: n})
			if err != nil {
				return err
			}
			for i, pol := range pols {
				r, took, err := evaluatePolicy(pol, env)
				if err != nil {
					return fmt.Errorf("K=%d: %w", k, err)
				}
				secs[i] += took.Seconds() / float64(*seeds)
				regrets[i] = append(regrets[i], r.Regret)
			}
		}
		for i, pol := range pols {
			m, sd := stat.MeanStdDev(regrets[i], nil)
			rows = append(rows, scaleRow{K: k, Method: pol.Name(), Regret: m, RegretSE: sd / math.Sqrt(float64(*seeds)), Seconds: secs[i]})
		}
	}
	slope, slopeSE := logLogSlope(rows, "transformer-finetuned")
	prov := provenance.New("scale --truth-prior "+p.Name, *seed, "")
	return emit(*out, stdout, func(w io.Writer) error {
		if *asJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"provenance": prov, "truth_prior": p.Name, "seeds": *seeds,
				"finetune_steps": *steps, "rows": rows, "finetuned_loglog_slope": slope, "finetuned_loglog_slope_se": slopeSE})
		}
		fmt.Fprintf(w, "truth %s v%s, n = %s, %d seeds per K, finetuning %d steps, seed %d (ptft %s)\n\n",
			p.Name, p.Version, *obs, *seeds, *steps, *seed, prov.Version)
		t := experiments.NewTable("K", "method", "regret", "± s.e.", "seconds")
		for _, r := range rows {
			t.Row(strconv.Itoa(r.K), r.Method, fmt.Sprintf("%.2f%%", 100*r.Regret), fmt.Sprintf("%.2f%%", 100*r.RegretSE), fmt.Sprintf("%.1f", r.Seconds))
		}
		if err := t.Write(w); err != nil {
			return err
		}
		if !math.IsNaN(slope) {
			fmt.Fprintf(w, "\nlog-log slope of transformer-finetuned regret against K: %.3f ± %.3f\n", slope, slopeSE)
		}
		return nil
	})
}

// logLogSlope fits log(regret) = a + b log(K) over the rows of method and
// returns b with its standard error (NaN when fewer than three K).
func logLogSlope(rows []scaleRow, method string) (float64, float64) {
	var x, y []float64
	for _, r := range rows {
		if r.Method == method && r.Regret > 0 {
			x = append(x, math.Log(float64(r.K)))
			y = append(y, math.Log(r.Regret))
		}
	}
	if len(x) < 3 {
		return math.NaN(), math.NaN()
	}
	a, b := stat.LinearRegression(x, y, nil, false)
	mx := stat.Mean(x, nil)
	ss, sxx := 0.0, 0.0
	for i := range x {
		e := y[i] - a - b*x[i]
		ss += e * e
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	return b, math.Sqrt(ss / float64(len(x)-2) / sxx)
}
