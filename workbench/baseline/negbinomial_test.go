package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
)

// negBinomialPortfolio draws k instances of n negative binomial counts of
// size r around log-normal means, log mu ~ N(m, s^2).
func negBinomialPortfolio(k, n int, m, s, r float64, seed uint64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 11))
	p := &data.Portfolio{Source: "negative-binomial"}
	for i := range k {
		mu := math.Exp(m + s*rng.NormFloat64())
		o := make([]float64, n)
		for j := range o {
			// A gamma day rate of shape r and mean mu, then Poisson.
			o[j] = distuv.Poisson{Lambda: distuv.Gamma{Alpha: r, Beta: r / mu, Src: rng}.Rand(), Src: rng}.Rand()
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.8)
	}
	return p
}

// On a large portfolio of its model the fit recovers the prior, and the
// decisions are the posterior-predictive quantiles: with one product the
// prior's, here checked against a direct sum of negative binomials.
func TestNegBinomialEBRecoversItsPrior(t *testing.T) {
	p := negBinomialPortfolio(5000, 5, math.Log(20), 0.6, 2, 1)
	h, err := NegBinomialEB{}.Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit %+v", h)
	if math.Abs(h.M-math.Log(20)) > 0.05 || math.Abs(h.S-0.6) > 0.05 || math.Abs(h.R/2-1) > 0.1 {
		t.Errorf("fit %+v; want M %.3f, S 0.6, R 2", h, math.Log(20))
	}
	q, err := Decide(NegBinomialEB{}, p)
	if err != nil {
		t.Fatal(err)
	}
	for k := range q {
		if q[k] != math.Trunc(q[k]) {
			t.Fatalf("instance %d: order %v, not a count", k, q[k])
		}
	}
}

// The mixture quantile of one component is the negative binomial's own.
func TestNBMixtureQuantile(t *testing.T) {
	for _, c := range []struct{ mu, r, rho float64 }{{3, 2, 0.8}, {200, 1.5, 0.95}, {5000, 1e4, 0.6}, {0.01, 0.5, 0.99}} {
		got := nbMixtureQuantile([]float64{math.Log(c.mu)}, []float64{0}, c.r, c.rho)
		want := dist.NegBinomial{R: c.r, P: c.r / (c.r + c.mu)}.Quantile(c.rho)
		if got != want {
			t.Errorf("mu %v, r %v, rho %v: %v, want %v", c.mu, c.r, c.rho, got, want)
		}
	}
}

func TestNegBinomialEBBadInput(t *testing.T) {
	p := negBinomialPortfolio(50, 4, 1, 0.5, 2, 3)
	p.Obs[9][1] = 2.5
	if _, err := (NegBinomialEB{}).Decide(p); err == nil || !strings.Contains(err.Error(), "negative-binomial") || !strings.Contains(err.Error(), `"9"`) {
		t.Errorf("non-integer count: error %v, want one naming the source and instance 9", err)
	}
	for k := range p.Obs {
		p.Obs[k] = make([]float64, 4)
	}
	if _, err := (NegBinomialEB{}).Decide(p); err == nil || !strings.Contains(err.Error(), "zero") {
		t.Errorf("all zeros: error %v", err)
	}
}

// The overdispersion ratio is large on negative binomial counts and
// below its 1% level on Poisson counts of the same log-normal means.
func TestOverdispersionLogRatio(t *testing.T) {
	lr, err := OverdispersionLogRatio(negBinomialPortfolio(500, 5, math.Log(10), 0.6, 2, 4))
	if err != nil {
		t.Fatal(err)
	}
	if lr < 50 {
		t.Errorf("size 2: log ratio %.2f", lr)
	}
	for seed := range uint64(3) {
		lr, err := OverdispersionLogRatio(negBinomialPortfolio(500, 5, math.Log(10), 0.6, 1e9, 5+seed))
		if err != nil {
			t.Fatal(err)
		}
		if lr > 2.71 {
			t.Errorf("Poisson counts, seed %d: log ratio %.2f", 5+seed, lr)
		}
	}
}

// On counts with a point mass of never-sellers the likelihood prefers a
// flat prior of log means; the method says so rather than order from it.
func TestNegBinomialEBRefusesAFlatPrior(t *testing.T) {
	p := zeroInflatedPortfolio(300, 4, 0.7, 2.8, 2.8/3, 1)
	q, err := NegBinomialEB{}.Decide(p)
	if err == nil {
		t.Fatalf("70%% never-sellers: no error (orders up to %v)", slices.Max(q))
	}
	if !strings.Contains(err.Error(), "log-normal prior") || !strings.Contains(err.Error(), p.Source) {
		t.Errorf("error %v", err)
	}
}

func BenchmarkOverdispersionLogRatio(b *testing.B) {
	p := negBinomialPortfolio(1000, 5, math.Log(20), 0.6, 1, 4)
	for b.Loop() {
		OverdispersionLogRatio(p)
	}
}

func BenchmarkNegBinomialEBDecide(b *testing.B) {
	p := negBinomialPortfolio(1000, 5, math.Log(20), 0.6, 1, 4)
	for b.Loop() {
		NegBinomialEB{}.Decide(p)
	}
}

// Poisson counts around log-normal means are likelier under log-normal
// means, and around gamma means under gamma ones.
func TestLogNormalMeansLogRatio(t *testing.T) {
	for seed := range uint64(2) {
		lr, err := LogNormalMeansLogRatio(negBinomialPortfolio(1000, 5, math.Log(5), 1, 1e9, 20+seed))
		if err != nil {
			t.Fatal(err)
		}
		if lr < 3 {
			t.Errorf("log-normal means, seed %d: log ratio %.2f", 20+seed, lr)
		}
		lr, err = LogNormalMeansLogRatio(zeroInflatedPortfolio(1000, 5, 0, 1.5, 0.5, 30+seed))
		if err != nil {
			t.Fatal(err)
		}
		if lr > 0 {
			t.Errorf("gamma means, seed %d: log ratio %.2f", 30+seed, lr)
		}
	}
}

// The dispersion statistic by hand: [1 3] has mean 2 and (1 + 1) / 2 = 1;
// [0 0 6] mean 2 and (4 + 4 + 16) / 2 = 12; [5] and [0 0] give none.
// Poisson days meet it at its chi-squared null, negative binomial days
// far above.
func TestPoissonDispersion(t *testing.T) {
	p := &data.Portfolio{Source: "hand", IDs: []string{"a", "b", "c", "d"}, Obs: [][]float64{{1, 3}, {0, 0, 6}, {5}, {0, 0}}, Ratios: []float64{0.5, 0.5, 0.5, 0.5}}
	chi2, dof, err := PoissonDispersion(p)
	if err != nil || chi2 != 13 || dof != 3 {
		t.Errorf("got %v on %v dof, %v; want 13 on 3", chi2, dof, err)
	}
	poisson := negBinomialPortfolio(1000, 4, math.Log(5), 0.6, 1e8, 3)
	chi2, dof, _ = PoissonDispersion(poisson)
	if z := (chi2 - dof) / math.Sqrt(2*dof); math.Abs(z) > 3 {
		t.Errorf("Poisson days: chi2 %.1f on %.0f dof, z %.2f", chi2, dof, z)
	}
	nb := negBinomialPortfolio(100, 4, math.Log(5), 0.6, 2, 3)
	chi2, dof, _ = PoissonDispersion(nb)
	if z := (chi2 - dof) / math.Sqrt(2*dof); z < 10 {
		t.Errorf("negative binomial days, size 2: chi2 %.1f on %.0f dof, z %.2f", chi2, dof, z)
	}
	p.Obs[0][1] = 2.5
	if _, _, err := PoissonDispersion(p); err == nil || !strings.Contains(err.Error(), "instance a") {
		t.Errorf("non-count: %v", err)
	}
}
