// Package problem defines the decision problems ptft solves and the one
// evaluator of expected cost that every policy, experiment and notebook uses.
//
// A Problem maps a decision q, a per-instance parameter (for the newsvendor,
// the critical ratio) and a demand distribution to an exact expected cost.
// Model and training code see only this interface, so a second problem can
// be added without touching them.
package problem

import (
	"fmt"
	"math"

	"github.com/ptft-lab/ptft/workbench/dist"
)

// Problem is a single-instance decision problem with known-distribution
// evaluation.
type Problem interface {
	// Name identifies the problem in results files.
	Name() string
	// Cost is the realised cost of decision q when demand is x.
	Cost(q, x, ratio float64) float64
	// ExpectedCost is E[Cost(q, D)] for D ~ d, computed exactly.
	ExpectedCost(d dist.Distribution, q, ratio float64) float64
	// Optimal returns the cost-minimising decision under d.
	Optimal(d dist.Distribution, ratio float64) float64
}

// Newsvendor is the newsvendor with critical ratio rho = b/(b+h), costs
// normalised to b = rho and h = 1 - rho: C(q, d) = rho (d-q)^+ + (1-rho) (q-d)^+.
// Relative regret does not depend on that normalisation.
type Newsvendor struct{}

// Name returns "newsvendor".
func (Newsvendor) Name() string { return "newsvendor" }

// Cost is rho (x-q)^+ + (1-rho) (q-x)^+.
func (Newsvendor) Cost(q, x, ratio float64) float64 {
	if x > q {
		return ratio * (x - q)
	}
	return (1 - ratio) * (q - x)
}

// ExpectedCost uses E(D-q)^+ = E[D] - E[D; D<=q] - q(1-F(q)) and
// E(q-D)^+ = q F(q) - E[D; D<=q], both exact given the distribution's closed
// forms for F and the partial mean.
func (Newsvendor) ExpectedCost(d dist.Distribution, q, ratio float64) float64 {
	f := d.CDF(q)
	pm := d.PartialMean(q)
	under := max(0, d.Mean()-pm-q*(1-f))
	over := max(0, q*f-pm)
	return ratio*under + (1-ratio)*over
}

// Optimal returns the ratio-quantile of d.
func (Newsvendor) Optimal(d dist.Distribution, ratio float64) float64 { return d.Quantile(ratio) }

// Report summarises a policy's decisions on a portfolio with known truths.
type Report struct {
	Instances  int     `json:"instances"`
	Cost       float64 `json:"mean_cost"`
	OracleCost float64 `json:"oracle_cost"`
	// Regret is (Cost - OracleCost) / OracleCost.
	Regret float64 `json:"relative_regret"`
	// Costs and OracleCosts are per instance, in input order.
	Costs       []float64 `json:"-"`
	OracleCosts []float64 `json:"-"`
}

// Evaluate computes the exact expected cost of decisions q under the true
// distributions, and the oracle's, averaged over instances.
func Evaluate(p Problem, truths []dist.Distribution, ratios, q []float64) (Report, error) {
	k := len(truths)
	if k == 0 {
		return Report{}, fmt.Errorf("problem: evaluate on an empty portfolio")
	}
	if len(ratios) != k || len(q) != k {
		return Report{}, fmt.Errorf("problem: %d truths, %d ratios and %d decisions differ", k, len(ratios), len(q))
	}
	r := Report{Instances: k, Costs: make([]float64, k), OracleCosts: make([]float64, k)}
	for i, d := range truths {
		if math.IsNaN(q[i]) || math.IsInf(q[i], 0) {
			return Report{}, fmt.Errorf("problem: decision %d is %v", i, q[i])
		}
		r.Costs[i] = p.ExpectedCost(d, q[i], ratios[i])
		r.OracleCosts[i] = p.ExpectedCost(d, p.Optimal(d, ratios[i]), ratios[i])
		r.Cost += r.Costs[i]
		r.OracleCost += r.OracleCosts[i]
	}
	r.Cost /= float64(k)
	r.OracleCost /= float64(k)
	r.Regret = (r.Cost - r.OracleCost) / r.OracleCost
	return r, nil
}
