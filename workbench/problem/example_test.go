package problem_test

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/problem"
)

func ExampleEvaluate() {
	truths := []dist.Distribution{dist.Normal{Mu: 100, Sigma: 20}, dist.Poisson{Lambda: 4}}
	ratios := []float64{0.8, 0.8}
	decisions := []float64{110, 6}
	r, err := problem.Evaluate(problem.Newsvendor{}, truths, ratios, decisions)
	if err != nil {
		panic(err)
	}
	fmt.Printf("cost %.4f, oracle %.4f, regret %.2f%%\n", r.Cost, r.OracleCost, 100*r.Regret)
	// Output:
	// cost 3.2757, oracle 3.0973, regret 5.76%
}
