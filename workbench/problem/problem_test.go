package problem

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ptft-lab/ptft/workbench/dist"
	"gonum.org/v1/gonum/stat/distuv"
)

func distributions(t *testing.T) map[string]dist.Distribution {
	t.Helper()
	disc, _ := dist.NewDiscrete([]float64{3, 1, 2, 10}, []float64{0.2, 0.3, 0.4, 0.1})
	emp, _ := dist.NewEmpirical([]float64{4, 1, 7, 7, 2})
	mix, _ := dist.NewMixture([]float64{0.3, 0.7}, dist.Normal{Mu: 10, Sigma: 2}, dist.LogNormalMeanCV(30, 0.5))
	nb, err := dist.NegBinomialMeanVar(6, 15)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]dist.Distribution{
		"normal": dist.Normal{Mu: 100, Sigma: 15}, "lognormal": dist.LogNormal{Mu: 2, Sigma: 0.8},
		"gamma": dist.Gamma{Shape: 2.5, Rate: 0.1}, "poisson": dist.Poisson{Lambda: 7.5},
		"negbinomial": nb, "discrete": disc, "empirical": emp, "mixture": mix,
	}
}

func TestNormalOptimalCost(t *testing.T) {
	nv := Newsvendor{}
	for _, rho := range []float64{0.1, 0.5, 0.8, 0.95} {
		for _, sigma := range []float64{0.5, 3, 40} {
			d := dist.Normal{Mu: 50, Sigma: sigma}
			// (b+h) sigma phi(z_rho) with b+h = 1.
			want := sigma * distuv.UnitNormal.Prob(distuv.UnitNormal.Quantile(rho))
			if got := nv.ExpectedCost(d, nv.Optimal(d, rho), rho); math.Abs(got-want) > 1e-12*max(1, want) {
				t.Errorf("rho %v sigma %v: optimal cost %v, want %v", rho, sigma, got, want)
			}
		}
	}
}

func TestExpectedCostAgainstMonteCarlo(t *testing.T) {
	const n = 1_000_000
	nv := Newsvendor{}
	src := rand.NewPCG(20260101, 7)
	for name, d := range distributions(t) {
		draws := make([]float64, n)
		for i := range draws {
			draws[i] = d.Rand(src)
		}
		for _, rho := range []float64{0.3, 0.8} {
			for _, level := range []float64{0.2, 0.5, 0.9} {
				q := d.Quantile(level) + 0.37 // off-atom for discrete families
				var s, s2 float64
				for _, x := range draws {
					c := nv.Cost(q, x, rho)
					s += c
					s2 += c * c
				}
				mean := s / n
				se := math.Sqrt((s2/n - mean*mean) / n)
				exact := nv.ExpectedCost(d, q, rho)
				if math.Abs(exact-mean) > 4*se {
					t.Errorf("%s rho %v q %v: exact %v, Monte Carlo %v ± %v", name, rho, q, exact, mean, se)
				}
			}
		}
	}
}

func TestExpectedCostConvexWithMinimumAtQuantile(t *testing.T) {
	nv := Newsvendor{}
	for name, d := range distributions(t) {
		for _, rho := range []float64{0.2, 0.5, 0.9} {
			qs := d.Quantile(rho)
			lo, hi := d.Quantile(0.01)-1, d.Quantile(0.99)+1
			const m = 400
			var prev, prev2 float64
			for i := 0; i <= m; i++ {
				q := lo + (hi-lo)*float64(i)/m
				c := nv.ExpectedCost(d, q, rho)
				if i >= 2 && c-2*prev+prev2 < -1e-9*max(1, c) {
					t.Errorf("%s rho %v: not convex at q=%v", name, rho, q)
				}
				if c < nv.ExpectedCost(d, qs, rho)-1e-9*max(1, c) {
					t.Errorf("%s rho %v: cost at %v below cost at the rho-quantile %v", name, rho, q, qs)
				}
				prev2, prev = prev, c
			}
		}
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	d := []dist.Distribution{dist.Normal{Mu: 1, Sigma: 1}}
	if _, err := Evaluate(Newsvendor{}, nil, nil, nil); err == nil {
		t.Error("empty portfolio accepted")
	}
	if _, err := Evaluate(Newsvendor{}, d, []float64{0.5}, []float64{math.NaN()}); err == nil {
		t.Error("NaN decision accepted")
	}
	if _, err := Evaluate(Newsvendor{}, d, []float64{0.5, 0.5}, []float64{1}); err == nil {
		t.Error("length mismatch accepted")
	}
	r, err := Evaluate(Newsvendor{}, d, []float64{0.5}, []float64{1})
	if err != nil || r.Regret != 0 {
		t.Errorf("oracle decision: regret %v, err %v", r.Regret, err)
	}
}
