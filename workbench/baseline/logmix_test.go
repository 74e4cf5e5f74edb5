package baseline

import (
	"math"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// TestLogDeconvolutionNearBayesOnBimodalDemand: on two-mode demand whose
// shape every product shares, npmle-log is within 1.5 points of the
// Bayes-optimal policy (which knows the prior) and far better than eb-log,
// which assumes log-normal noise; its decisions scale with the data.
func TestLogDeconvolutionNearBayesOnBimodalDemand(t *testing.T) {
	pr, _ := prior.Lookup("truth-bimodal")
	env, err := pr.Generate(4, prior.Options{Instances: 1000, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	p := env.Portfolio
	q := mustDecide(t, LogDeconvolution{}, p)
	b, err := BayesPolicy(pr.Kind, env.Hyper)
	if err != nil {
		t.Fatal(err)
	}
	r := mustEvaluate(t, env.Truth, p.Ratios, q)
	rb := mustEvaluate(t, env.Truth, p.Ratios, mustDecide(t, b, p))
	rl := mustEvaluate(t, env.Truth, p.Ratios, mustDecide(t, LogEB{}, p))
	if r.Regret > rb.Regret+0.015 || r.Regret > rl.Regret-0.05 {
		t.Errorf("npmle-log regret %.4f, Bayes %.4f, eb-log %.4f", r.Regret, rb.Regret, rl.Regret)
	}
	q7 := mustDecide(t, LogDeconvolution{}, scaledCopy(p, 7))
	for k := range q {
		if math.Abs(q7[k]-7*q[k]) > 1e-6*q7[k] {
			t.Fatalf("instance %d: %v at scale 7, %v at 1", k, q7[k], q[k])
		}
	}
}

// TestLogDeconvolutionResistsAGrossError: one observation set to 50 times
// the portfolio's mean changes the other products' relative regret by
// less than half a point (the suite's contamination measure).
func TestLogDeconvolutionResistsAGrossError(t *testing.T) {
	pr, _ := prior.Lookup("lognormal-portfolio")
	env, err := pr.Generate(5, prior.Options{Instances: 500, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	p := env.Portfolio
	q := mustDecide(t, LogDeconvolution{}, p)
	mean, n := 0.0, 0
	for _, o := range p.Obs {
		for _, x := range o {
			mean += x
			n++
		}
	}
	bad := scaledCopy(p, 1)
	bad.Obs[0][2] = 50 * mean / float64(n)
	qb := mustDecide(t, LogDeconvolution{}, bad)
	r := mustEvaluate(t, env.Truth[1:], p.Ratios[1:], q[1:])
	rb := mustEvaluate(t, env.Truth[1:], p.Ratios[1:], qb[1:])
	if math.Abs(rb.Regret-r.Regret) > 0.005 {
		t.Errorf("one gross error changes the other products' regret from %.4f to %.4f", r.Regret, rb.Regret)
	}
}

func TestLogDeconvolutionRejectsWhatItCannotFit(t *testing.T) {
	single := &data.Portfolio{Source: "single.csv", IDs: []string{"a", "b"}, Obs: [][]float64{{3}, {4}}, Ratios: []float64{0.5, 0.5}}
	if _, err := (LogDeconvolution{}).Decide(single); err == nil || !strings.Contains(err.Error(), "two or more observations") {
		t.Errorf("one observation per instance: %v", err)
	}
	zeros := &data.Portfolio{Source: "zeros.csv", IDs: []string{"a", "b"}, Obs: [][]float64{{0, 0}, {0, 0}}, Ratios: []float64{0.5, 0.5}}
	if _, err := (LogDeconvolution{}).Decide(zeros); err == nil || !strings.Contains(err.Error(), "zeros.csv") {
		t.Errorf("all zeros: %v", err)
	}
}
