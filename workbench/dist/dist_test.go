package dist

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"
)

func testDists(t *testing.T) map[string]Distribution {
	t.Helper()
	disc, err := NewDiscrete([]float64{3, 1, 2, 10}, []float64{0.2, 0.3, 0.4, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	emp, err := NewEmpirical([]float64{4, 1, 7, 7, 2})
	if err != nil {
		t.Fatal(err)
	}
	mix, err := NewMixture([]float64{0.3, 0.7}, Normal{10, 2}, LogNormalMeanCV(30, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	nb, err := NegBinomialMeanVar(6, 15)
	if err != nil {
		t.Fatal(err)
	}
	pmix, err := NewMixture([]float64{0.5, 0.5}, Poisson{3}, nb)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Distribution{
		"normal": Normal{100, 15}, "lognormal": LogNormal{2, 0.8}, "gamma": Gamma{2.5, 0.1},
		"poisson": Poisson{7.5}, "negbinomial": nb, "discrete": disc, "empirical": emp,
		"mixture": mix, "count-mixture": pmix, "censored": Censored{Normal{5, 10}},
	}
}

func TestQuantileIsSmallestWithCDFAtLeastP(t *testing.T) {
	for name, d := range testDists(t) {
		for _, p := range []float64{0.01, 0.1, 0.3, 0.5, 0.8, 0.95, 0.999} {
			q := d.Quantile(p)
			if d.CDF(q) < p-1e-9 {
				t.Errorf("%s: CDF(Q(%v)=%v) = %v < p", name, p, q, d.CDF(q))
			}
			eps := 1e-6 * max(1, math.Abs(q))
			if d.CDF(q-eps) >= p+1e-9 {
				t.Errorf("%s: CDF(Q(%v)-eps) = %v >= p: quantile not smallest", name, p, d.CDF(q-eps))
			}
		}
	}
}

func TestPartialMeanLimitsToMean(t *testing.T) {
	for name, d := range testDists(t) {
		top := d.Quantile(1 - 1e-12)
		if got, want := d.PartialMean(top*2+100), d.Mean(); math.Abs(got-want) > 1e-6*max(1, want) {
			t.Errorf("%s: PartialMean(inf) = %v, Mean = %v", name, got, want)
		}
	}
}

func TestContinuousPartialMeanAgainstQuadrature(t *testing.T) {
	type pdf interface{ Prob(float64) float64 }
	cases := []struct {
		d   Distribution
		pdf pdf
		x   float64
		lo  float64
	}{
		{Normal{100, 15}, distuv.Normal{Mu: 100, Sigma: 15}, 110, -100},
		{LogNormal{2, 0.8}, distuv.LogNormal{Mu: 2, Sigma: 0.8}, 9, 0},
		{Gamma{2.5, 0.1}, distuv.Gamma{Alpha: 2.5, Beta: 0.1}, 20, 0},
	}
	for _, c := range cases {
		want := quad.Fixed(func(x float64) float64 { return x * c.pdf.Prob(x) }, c.lo, c.x, 2000, nil, 0)
		if got := c.d.PartialMean(c.x); math.Abs(got-want) > 1e-7*math.Abs(want) {
			t.Errorf("%T: PartialMean(%v) = %v, quadrature %v", c.d, c.x, got, want)
		}
	}
}

func TestCountPartialMeanAgainstDirectSums(t *testing.T) {
	nb := NegBinomial{R: 2.5, P: 0.3}
	pois := Poisson{7.5}
	pmfNB := func(k int) float64 {
		lg1, _ := math.Lgamma(float64(k) + nb.R)
		lg2, _ := math.Lgamma(nb.R)
		lg3, _ := math.Lgamma(float64(k) + 1)
		return math.Exp(lg1 - lg2 - lg3 + nb.R*math.Log(nb.P) + float64(k)*math.Log1p(-nb.P))
	}
	pmfP := func(k int) float64 { return distuv.Poisson{Lambda: pois.Lambda}.Prob(float64(k)) }
	for _, c := range []struct {
		d   Distribution
		pmf func(int) float64
	}{{nb, pmfNB}, {pois, pmfP}} {
		cdf, pm := 0.0, 0.0
		for k := 0; k <= 30; k++ {
			cdf += c.pmf(k)
			pm += float64(k) * c.pmf(k)
			x := float64(k) + 0.5
			if got := c.d.CDF(x); math.Abs(got-cdf) > 1e-12 {
				t.Errorf("%T CDF(%v) = %v, direct sum %v", c.d, x, got, cdf)
			}
			if got := c.d.PartialMean(x); math.Abs(got-pm) > 1e-11 {
				t.Errorf("%T PartialMean(%v) = %v, direct sum %v", c.d, x, got, pm)
			}
		}
	}
}

func TestEmpiricalQuantileIsOrderStatistic(t *testing.T) {
	sample := []float64{5, 3, 9, 1, 7, 2, 8, 6, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	e, err := NewEmpirical(sample)
	if err != nil {
		t.Fatal(err)
	}
	// 0.95*20 = 19 exactly in exact arithmetic: the 19th order statistic.
	if got := e.Quantile(0.95); got != 19 {
		t.Errorf("Quantile(0.95) = %v, want the 19th order statistic 19", got)
	}
	if got := e.Quantile(0.951); got != 20 {
		t.Errorf("Quantile(0.951) = %v, want 20", got)
	}
}

func TestSamplingIsSeeded(t *testing.T) {
	for name, d := range testDists(t) {
		a, b := rand.NewPCG(1, 2), rand.NewPCG(1, 2)
		for range 20 {
			if x, y := d.Rand(a), d.Rand(b); x != y {
				t.Fatalf("%s: same seed gave %v and %v", name, x, y)
			}
		}
	}
}

func TestSpecRoundTrip(t *testing.T) {
	for name, d := range testDists(t) {
		raw, err := json.Marshal(d.Spec())
		if err != nil {
			t.Fatal(err)
		}
		var s Spec
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		back, err := s.Build()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, x := range []float64{0.5, 3, 7, 12, 50, 120} {
			if math.Abs(back.CDF(x)-d.CDF(x)) > 1e-12 || math.Abs(back.PartialMean(x)-d.PartialMean(x)) > 1e-12 {
				t.Errorf("%s: round trip changed CDF/partial mean at %v", name, x)
			}
		}
	}
}

func TestSpecRejectsBadParameters(t *testing.T) {
	bad := []Spec{
		{Family: "normal", Params: map[string]float64{"mu": 1}},
		{Family: "normal", Params: map[string]float64{"mu": 1, "sigma": -1}},
		{Family: "gamma", Params: map[string]float64{"shape": math.NaN(), "rate": 1}},
		{Family: "negbinomial", Params: map[string]float64{"r": 1, "p": 1.5}},
		{Family: "discrete", Support: []float64{1, 2}, Probs: []float64{0.5, 0.6}},
		{Family: "empirical"},
		{Family: "weibull"},
		{},
		{Family: "mixture", Weights: []float64{1}, Components: []Spec{{Family: "poisson"}}},
	}
	for _, s := range bad {
		if _, err := s.Build(); err == nil {
			t.Errorf("Build(%+v) accepted a bad spec", s)
		}
	}
}

// plainBisect is the textbook bisection bracketedQuantile must agree with.
func plainBisect(cdf func(float64) float64, p, lo, hi float64) float64 {
	for range 2000 {
		m := lo + (hi-lo)/2
		if m <= lo || m >= hi {
			break
		}
		if cdf(m) >= p-probTol {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}

func TestMixtureQuantileAgreesWithBisectionInFewSteps(t *testing.T) {
	mixtures := map[string]*Mixture{}
	add := func(name string, w []float64, c ...Distribution) {
		m, err := NewMixture(w, c...)
		if err != nil {
			t.Fatal(err)
		}
		mixtures[name] = m
	}
	add("gamma", []float64{0.3, 0.7}, Gamma{Shape: 2, Rate: 0.1}, Gamma{Shape: 9, Rate: 0.2})
	add("lognormal-normal", []float64{0.5, 0.5}, LogNormal{Mu: 3, Sigma: 0.4}, Normal{Mu: 60, Sigma: 5})
	add("two-mode", []float64{0.9, 0.1}, Normal{Mu: 10, Sigma: 1}, Normal{Mu: 200, Sigma: 20})
	add("poisson", []float64{0.4, 0.6}, Poisson{Lambda: 3}, Poisson{Lambda: 40})
	for name, m := range mixtures {
		for _, p := range []float64{0.01, 0.2, 0.5, 0.8, 0.95, 0.999} {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, c := range m.Components {
				lo, hi = min(lo, c.Quantile(p)), max(hi, c.Quantile(p))
			}
			if m.CDF(lo) >= p-probTol {
				continue
			}
			calls := 0
			counted := func(x float64) float64 { calls++; return m.CDF(x) }
			got, want := bracketedQuantile(counted, p, lo, hi), plainBisect(m.CDF, p, lo, hi)
			if math.Abs(got-want) > 1e-12*math.Abs(want) && math.Abs(got-want) > 1e-300 {
				t.Errorf("%s p=%v: %v, bisection %v", name, p, got, want)
			}
			if _, discrete := m.Components[0].(Poisson); !discrete && calls > 50 {
				t.Errorf("%s p=%v: %d CDF evaluations", name, p, calls)
			}
			if calls > 140 {
				t.Errorf("%s p=%v: %d CDF evaluations, more than twice bisection's", name, p, calls)
			}
		}
	}
}

func BenchmarkMixtureQuantile(b *testing.B) {
	m, err := NewMixture([]float64{0.3, 0.7}, Gamma{Shape: 2, Rate: 0.1}, Gamma{Shape: 9, Rate: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m.Quantile(0.9)
	}
}

// TestLogProbIntegratesToTheCDF: each log density, exponentiated and
// summed (counts) or integrated (continuous), gives the CDF.
func TestLogProbIntegratesToTheCDF(t *testing.T) {
	mix, _ := NewMixture([]float64{0.3, 0.7}, GammaMeanCV(5, 0.3), GammaMeanCV(12, 0.2))
	nb, _ := NegBinomialMeanVar(6, 20)
	for name, d := range map[string]LogDensity{
		"normal": Normal{Mu: 3, Sigma: 2}, "lognormal": LogNormalMeanCV(4, 0.6), "gamma": GammaMeanCV(7, 0.5), "mixture": mix,
	} {
		x, h, total := d.Quantile(0.001), 1e-3, 0.0
		for ; x < d.Quantile(0.7); x += h {
			total += h * (math.Exp(d.LogProb(x)) + math.Exp(d.LogProb(x+h))) / 2
		}
		if want := d.CDF(x) - d.CDF(d.Quantile(0.001)); math.Abs(total-want) > 1e-4 {
			t.Errorf("%s: integral %v, CDF difference %v", name, total, want)
		}
	}
	for name, d := range map[string]LogDensity{"poisson": Poisson{Lambda: 4.5}, "negbinomial": nb} {
		total := 0.0
		for k := 0.0; k <= 9; k++ {
			total += math.Exp(d.LogProb(k))
		}
		if math.Abs(total-d.CDF(9)) > 1e-12 || !math.IsInf(d.LogProb(2.5), -1) {
			t.Errorf("%s: pmf sum %v, CDF %v", name, total, d.CDF(9))
		}
	}
}

func TestCensoredNormalAgainstClosedForms(t *testing.T) {
	// E[max(0, X)] = mu Phi(mu/sigma) + sigma phi(mu/sigma).
	for _, n := range []Normal{{5, 10}, {-20, 10}, {200, 40}} {
		c := NonNegative(n)
		z := n.Mu / n.Sigma
		if got, want := c.Mean(), n.Mu*distuv.UnitNormal.CDF(z)+n.Sigma*distuv.UnitNormal.Prob(z); math.Abs(got-want) > 1e-12*max(1, want) {
			t.Errorf("%v: mean %v, closed form %v", n, got, want)
		}
		if got, want := c.CDF(0), n.CDF(0); got != want || c.CDF(-1e-9) != 0 {
			t.Errorf("%v: atom at zero %v, want %v and nothing below", n, got, want)
		}
		if q := c.Quantile(n.CDF(0) / 2); q != 0 {
			t.Errorf("%v: quantile inside the atom is %v, want 0", n, q)
		}
		if got := math.Exp(c.(LogDensity).LogProb(0)); math.Abs(got-n.CDF(0)) > 1e-12 {
			t.Errorf("%v: likelihood of a zero %v, want the atom %v", n, got, n.CDF(0))
		}
	}
	for _, d := range []Distribution{Poisson{0.5}, GammaMeanCV(3, 2), LogNormal{0, 1}} {
		if NonNegative(d) != d {
			t.Errorf("NonNegative(%T) wrapped a distribution without negative mass", d)
		}
	}
}
