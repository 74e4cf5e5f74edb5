package baseline_test

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
)

func Example() {
	p, _ := prior.Lookup("normal-normal")
	env, err := p.Generate(1, prior.Options{Instances: 2000, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.8})
	if err != nil {
		panic(err)
	}
	bayes, _ := baseline.BayesFromPrior(p.Kind, env.Hyper)
	for _, pol := range []baseline.Policy{
		baseline.SAA{}, baseline.PooledSAA{}, &baseline.ShrunkenSAA{}, baseline.EmpiricalBayes{}, bayes,
	} {
		q, err := pol.Decide(env.Portfolio)
		if err != nil {
			panic(err)
		}
		r, _ := problem.Evaluate(problem.Newsvendor{}, env.Truth, env.Portfolio.Ratios, q)
		fmt.Printf("%-13s regret %5.2f%%\n", pol.Name(), 100*r.Regret)
	}
	// Output:
	// saa           regret 25.57%
	// pooled-saa    regret 16.52%
	// shrunken-saa  regret 16.61%
	// eb            regret  8.84%
	// bayes         regret  8.84%
}
