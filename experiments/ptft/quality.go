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

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

type qualityRow struct {
	K         int     `json:"instances"`
	N         int     `json:"obs"`
	Method    string  `json:"method"`
	Regret    float64 `json:"relative_regret"`
	RegretSE  float64 `json:"regret_se"`
	OverBayes float64 `json:"excess_over_bayes"` // (cost - Bayes cost) / oracle cost; NaN without Bayes
	OverEB    float64 `json:"excess_over_eb"`    // (cost - EB cost) / oracle cost
}

// runQuality prints regret, excess over Bayes-optimal and over empirical
// Bayes (as fractions of oracle cost) for a grid of K and n, averaged over
// environments drawn from a prior.
func runQuality(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("quality", flag.ContinueOnError)
	priorName := fs.String("prior", "normal-normal", "built-in prior name or a prior JSON file")
	ks := fs.String("instances", "100,1000", "values of K")
	ns := fs.String("obs", "3,5,10", "values of n (every instance has n observations)")
	envs := fs.Int("envs", 20, "environments per (K, n)")
	seed := fs.Uint64("seed", 1, "random seed")
	methods := fs.String("methods", "saa,pooled-saa,shrunken-saa,shrunken-saa-additive,eb,eb-log,npmle,npmle-log,transformer", "methods")
	modelDir := fs.String("model", "", "transformer: model folder (default: the shipped results/models/default)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	out := fs.String("out", "", "write the table (or JSON) to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := prior.Lookup(*priorName)
	if err != nil {
		return err
	}
	kv, err := parseInts(*ks)
	if err != nil {
		return fmt.Errorf("%w: --instances: %v", errUsage, err)
	}
	nv, err := parseInts(*ns)
	if err != nil {
		return fmt.Errorf("%w: --obs: %v", errUsage, err)
	}
	if *envs < 2 {
		return fmt.Errorf("%w: --envs must be >= 2", errUsage)
	}
	pols, err := policies(splitList(*methods), *modelDir)
	if err != nil {
		return err
	}
	eb := baseline.EmpiricalBayes{}
	var rows []qualityRow
	rng := rand.New(rand.NewPCG(*seed, 0))
	for _, k := range kv {
		for _, n := range nv {
			regrets := make([][]float64, len(pols))
			overB := make([]float64, len(pols))
			overEB := make([]float64, len(pols))
			haveBayes := true
			for range *envs {
				env, err := p.Generate(rng.Uint64(), prior.Options{Instances: k, Obs: prior.IntRange{Min: n, Max: n}})
				if err != nil {
					return err
				}
				cost := func(pol baseline.Policy) (problem.Report, error) {
					r, _, err := evaluatePolicy(pol, env)
					return r, err
				}
				bayesCost := math.NaN()
				if b, err := experiments.Method("bayes", experiments.MethodOptions{Env: env}); err == nil {
					r, err := cost(b)
					if err != nil {
						return err
					}
					bayesCost = r.Cost
				} else {
					haveBayes = false
				}
				rEB, err := cost(eb)
				if err != nil {
					return err
				}
				for i, pol := range pols {
					r, err := cost(pol)
					if err != nil {
						return err
					}
					regrets[i] = append(regrets[i], r.Regret)
					overB[i] += (r.Cost - bayesCost) / r.OracleCost / float64(*envs)
					overEB[i] += (r.Cost - rEB.Cost) / r.OracleCost / float64(*envs)
				}
			}
			for i, pol := range pols {
				m, sd := stat.MeanStdDev(regrets[i], nil)
				se := sd / math.Sqrt(float64(len(regrets[i])))
				row := qualityRow{K: k, N: n, Method: pol.Name(), Regret: m, RegretSE: se, OverBayes: overB[i], OverEB: overEB[i]}
				if !haveBayes {
					row.OverBayes = math.NaN()
				}
				rows = append(rows, row)
			}
		}
	}
	prov := provenance.New("quality --prior "+p.Name, *seed, "")
	return emit(*out, stdout, func(w io.Writer) error {
		if *asJSON {
			for i := range rows {
				if math.IsNaN(rows[i].OverBayes) {
					rows[i].OverBayes = 0
				}
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"provenance": prov, "prior": p.Name, "envs": *envs, "rows": rows})
		}
		fmt.Fprintf(w, "prior %s v%s, %d environments per cell, seed %d (ptft %s); excess columns are (cost - reference cost) / oracle cost\n\n",
			p.Name, p.Version, *envs, *seed, prov.Version)
		t := experiments.NewTable("K", "n", "method", "regret", "± s.e.", "excess over Bayes", "excess over EB")
		for _, r := range rows {
			ob := "n/a"
			if !math.IsNaN(r.OverBayes) {
				ob = fmt.Sprintf("%.3f%%", 100*r.OverBayes)
			}
			t.Row(strconv.Itoa(r.K), strconv.Itoa(r.N), r.Method, fmt.Sprintf("%.3f%%", 100*r.Regret),
				fmt.Sprintf("%.3f%%", 100*r.RegretSE), ob, fmt.Sprintf("%.3f%%", 100*r.OverEB))
		}
		return t.Write(w)
	})
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}
