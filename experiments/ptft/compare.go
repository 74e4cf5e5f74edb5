package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ptft-lab/ptft/experiments"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

type compareRow struct {
	Method  string  `json:"method"`
	Cost    float64 `json:"mean_cost"`
	Regret  float64 `json:"relative_regret"`
	Seconds float64 `json:"seconds"`
}

// runCompare is simulate -> decide with every method -> evaluate, in memory.
func runCompare(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	priorName := fs.String("prior", "normal-normal", "built-in prior name or a prior JSON file")
	instances := fs.Int("instances", 1000, "number of instances K (at least 2)")
	obs := fs.String("obs", "5", "observations per instance: n or min-max")
	seed := fs.Uint64("seed", 1, "random seed")
	ratio := fs.Float64("critical-ratio", 0, "fix the critical ratio (0: the prior's range)")
	methods := fs.String("methods", "saa,pooled-saa,shrunken-saa,shrunken-saa-uniform,shrunken-saa-additive,eb,eb-ml,eb-censored,eb-log,npmle,npmle-log,transformer", "methods to compare")
	modelDir := fs.String("model", "", "transformer: model folder (default: the shipped results/models/default)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	out := fs.String("out", "", "write the table (or JSON) to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *instances < 2 {
		return fmt.Errorf("%w: --instances %d: a portfolio for comparing methods needs at least 2 instances", errUsage, *instances)
	}
	if *ratio != 0 {
		if err := data.CheckRatio(*ratio); err != nil {
			return fmt.Errorf("%w: --critical-ratio: %v", errUsage, err)
		}
	}
	p, err := prior.Lookup(*priorName)
	if err != nil {
		return err
	}
	o := prior.Options{Instances: *instances, Ratio: *ratio}
	if o.Obs, err = parseIntRange(*obs); err != nil {
		return fmt.Errorf("%w: --obs: %v", errUsage, err)
	}
	pols, err := policies(splitList(*methods), *modelDir)
	if err != nil {
		return err
	}
	env, err := p.Generate(*seed, o)
	if err != nil {
		return err
	}
	// Bayes where the prior makes it computable, and the oracle.
	for _, name := range []string{"bayes", "oracle"} {
		if pol, err := experiments.Method(name, experiments.MethodOptions{Env: env}); err == nil {
			pols = append(pols, pol)
		}
	}
	var rows []compareRow
	for _, pol := range pols {
		r, took, err := evaluatePolicy(pol, env)
		if err != nil {
			return err
		}
		secs := took.Seconds()
		rows = append(rows, compareRow{pol.Name(), r.Cost, r.Regret, secs})
	}
	prov := provenance.New("compare --prior "+p.Name, *seed, "none")
	return emit(*out, stdout, func(w io.Writer) error {
		if *asJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"provenance": prov, "prior": p.Name, "prior_version": p.Version,
				"instances": env.Portfolio.Len(), "observations": env.Portfolio.NumObs(), "hyperparameters": env.Hyper, "results": rows})
		}
		fmt.Fprintf(w, "prior %s v%s, K = %d, %d observations, seed %d (ptft %s)\n\n",
			p.Name, p.Version, env.Portfolio.Len(), env.Portfolio.NumObs(), *seed, prov.Version)
		t := experiments.NewTable("method", "mean cost", "relative regret", "seconds")
		for _, r := range rows {
			t.Row(r.Method, fmt.Sprintf("%.6g", r.Cost), fmt.Sprintf("%.3f%%", 100*r.Regret), fmt.Sprintf("%.3f", r.Seconds))
		}
		return t.Write(w)
	})
}

// evaluatePolicy decides env's portfolio with pol and scores the decisions
// with the one evaluator; it also reports how long deciding took.
func evaluatePolicy(pol baseline.Policy, env *prior.Environment) (problem.Report, time.Duration, error) {
	start := time.Now()
	q, err := baseline.Decide(pol, env.Portfolio)
	if err != nil {
		return problem.Report{}, 0, fmt.Errorf("%s: %w", pol.Name(), err)
	}
	took := time.Since(start)
	r, err := problem.Evaluate(problem.Newsvendor{}, env.Truth, env.Portfolio.Ratios, q)
	return r, took, err
}
