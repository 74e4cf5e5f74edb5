package baseline

import (
	"math"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// lognormalTestPortfolio draws K = 300 instances of n = 5 from a
// managerial or other prior of fixed hyperparameters.
func lognormalTestPortfolio(t *testing.T, kind string, families []string, level, spread, cv float64, seed uint64) *data.Portfolio {
	t.Helper()
	pr := &prior.Prior{Name: "lognormal-test", Version: "1", Kind: kind, Families: families,
		Level: prior.Fixed(level), Spread: prior.Fixed(spread), CV: prior.Fixed(cv), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: 300, Max: 300}, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: prior.Fixed(0.9)}
	env, err := pr.Generate(seed, prior.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env.Portfolio
}

// The test keeps about its level on data from its model (two tests at
// 1% each, widened by the residuals' dependence), rejects normal,
// gamma, two-mode and count portfolios, and is scale free.
func TestLogNormalTest(t *testing.T) {
	rejected := 0
	for seed := uint64(1); seed <= 20; seed++ {
		p := lognormalTestPortfolio(t, prior.Managerial, []string{"lognormal"}, 100, 1, 1.2, seed)
		r, err := LogNormalTest{}.Run(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rejected {
			rejected++
		}
		if seed == 1 {
			scaled := &data.Portfolio{Source: "scaled", IDs: p.IDs, Ratios: p.Ratios, Obs: make([][]float64, p.Len())}
			for k, o := range p.Obs {
				for _, x := range o {
					scaled.Obs[k] = append(scaled.Obs[k], 8*x)
				}
			}
			s, err := LogNormalTest{}.Run(scaled)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Residuals-r.Residuals) > 1e-9*r.Residuals || math.Abs(s.Means-r.Means) > 1e-9*r.Means {
				t.Errorf("scaled by 8: statistics %v, %v against %v, %v", s.Residuals, s.Means, r.Residuals, r.Means)
			}
		}
	}
	t.Logf("lognormal portfolios: %d of 20 rejected", rejected)
	if rejected > 3 {
		t.Errorf("lognormal portfolios: %d of 20 rejected", rejected)
	}
	others := []struct {
		name     string
		kind     string
		families []string
		level    float64
		spread   float64
		cv       float64
	}{
		{"normal-normal", prior.NormalNormal, nil, 200, 0.2, 0.2},
		{"gamma", prior.Managerial, []string{"gamma"}, 100, 0.6, 0.5},
		{"two-mode", prior.Managerial, []string{"mixture"}, 100, 0.5, 0.3},
		{"gamma-Poisson", prior.GammaPoisson, nil, 3, 0.6, 0},
		{"negative binomial", prior.Managerial, []string{"negbinomial"}, 20, 0.6, 1},
	}
	for _, o := range others {
		for seed := uint64(1); seed <= 5; seed++ {
			r, err := LogNormalTest{}.Run(lognormalTestPortfolio(t, o.kind, o.families, o.level, o.spread, o.cv, seed))
			if err != nil {
				t.Fatal(err)
			}
			if !r.Rejected {
				t.Errorf("%s, seed %d: not rejected (statistics %.2f, %.2f)", o.name, seed, r.Residuals, r.Means)
			}
		}
	}
	zeros := &data.Portfolio{Source: "zeros.csv", IDs: []string{"a", "b", "c", "d"}, Ratios: []float64{0.9, 0.9, 0.9, 0.9},
		Obs: [][]float64{{0, 0}, {0, 0}, {0, 0}, {0, 0}}}
	if _, err := (LogNormalTest{}).Run(zeros); err == nil || !strings.Contains(err.Error(), "zeros.csv") {
		t.Errorf("all zeros: %v", err)
	}
}
