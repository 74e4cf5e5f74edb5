package baseline

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
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

// TestLogMixtureSmoothsWhereMeansSpread: npmle-log smooths G where the
// product means spread continuously (two-mode days around log-normal
// means), and there its regret falls; it keeps G's spikes where the
// products come in two sizes, and there smoothing would cost. Smoothing
// keeps G a distribution.
func TestLogMixtureSmoothsWhereMeansSpread(t *testing.T) {
	pr, _ := prior.Lookup("truth-bimodal")
	env, err := pr.Generate(7, prior.Options{Instances: 1000, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	twoSizes := func(seed uint64) (*data.Portfolio, []dist.Distribution) {
		rng := rand.New(rand.NewPCG(seed, 9))
		p := &data.Portfolio{Source: "two-sizes"}
		var truth []dist.Distribution
		for i := range 1000 {
			d := dist.GammaMeanCV(80, 0.2)
			if rng.Float64() < 0.3 {
				d = dist.GammaMeanCV(20, 0.2)
			}
			o := make([]float64, 5)
			for j := range o {
				o[j] = d.Rand(rng)
			}
			p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.8)
			truth = append(truth, d)
		}
		return p, truth
	}
	sized, sizedTruth := twoSizes(3)
	for _, c := range []struct {
		name   string
		p      *data.Portfolio
		truth  []dist.Distribution
		smooth bool
	}{
		{"two-mode days, log-normal means", env.Portfolio, env.Truth, true},
		{"two sizes", sized, sizedTruth, false},
	} {
		ys := logObs(c.p, 0)
		if got := chooseSmoothing(ys, 0, 0, 0, 0) > 0; got != c.smooth {
			t.Errorf("%s: smooths %v, want %v", c.name, got, c.smooth)
		}
		m, err := FitLogMixture(ys, 0, 0, 0, 0, smoothPasses)
		if err != nil {
			t.Fatal(err)
		}
		if total := floats.Sum(m.G); math.Abs(total-1) > 1e-6 { // EM drops posterior weights below 1e-8
			t.Errorf("%s: smoothed G sums to %v", c.name, total)
		}
		chosen := mustEvaluate(t, c.truth, c.p.Ratios, mustDecide(t, LogDeconvolution{}, c.p))
		spiky := mustEvaluate(t, c.truth, c.p.Ratios, mustDecide(t, LogDeconvolution{Smoothing: -1}, c.p))
		smooth := mustEvaluate(t, c.truth, c.p.Ratios, mustDecide(t, LogDeconvolution{Smoothing: smoothPasses}, c.p))
		if other := map[bool]problem.Report{true: spiky, false: smooth}[c.smooth]; chosen.Regret >= other.Regret {
			t.Errorf("%s: chosen regret %.4f, the other choice's %.4f", c.name, chosen.Regret, other.Regret)
		}
	}
}

// normalNormalLogMarginal is the log density of each instance's
// observations under the multivariate normal of mean mu and covariance
// sigma^2 I + tau^2 J.
func TestNormalNormalLogMarginal(t *testing.T) {
	ys := [][]float64{{0.3, -1.2, 2.5}, {1}, {4, 4.5}}
	mu, tau, sigma := 0.7, 1.3, 0.8
	want := 0.0
	for _, y := range ys {
		n := len(y)
		cov := mat.NewSymDense(n, nil)
		for i := range n {
			for j := range n {
				v := tau * tau
				if i == j {
					v += sigma * sigma
				}
				cov.SetSym(i, j, v)
			}
		}
		mean := make([]float64, n)
		for i := range mean {
			mean[i] = mu
		}
		d, ok := distmv.NewNormal(mean, cov, nil)
		if !ok {
			t.Fatal("covariance not positive definite")
		}
		want += d.LogProb(y)
	}
	p := &data.Portfolio{Source: "ys", IDs: []string{"a", "b", "c"}, Ratios: []float64{0.5, 0.5, 0.5}, Obs: ys}
	if got := normalNormalLogMarginal(p, Hyper{Family: NormalFamily, Mu0: mu, Tau: tau, Sigma: sigma}); math.Abs(got-want) > 1e-10 {
		t.Errorf("got %v, want %v", got, want)
	}
}

// LogMixtureGain favours npmle-log on products of two sizes seen on two
// days, which eb-log's normal G cannot hold, and eb-log on log-normal
// products, by more than a few log-likelihood units either way, and it
// is scale free.
func TestLogMixtureGain(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		two := sizedTestPortfolio(t, prior.Managerial, []string{"mixture"}, 100, 0.3, 0.3, 300, 2, seed)
		g, err := LogMixtureGain(two)
		if err != nil {
			t.Fatal(err)
		}
		if g < 20 {
			t.Errorf("seed %d: two-mode products: gain %.2f, want 20 or more", seed, g)
		}
		scaled, err := LogMixtureGain(scaledCopy(two, 1000))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(scaled-g) > 1e-6*math.Abs(g) {
			t.Errorf("seed %d: gain %v at 1,000 times the scale, %v at 1", seed, scaled, g)
		}
		ln := sizedTestPortfolio(t, prior.Managerial, []string{"lognormal"}, 100, 0.5, 0.4, 300, 2, seed)
		if g, err := LogMixtureGain(ln); err != nil || g > 0 {
			t.Errorf("seed %d: log-normal products: gain %.2f (%v), want below 0", seed, g, err)
		}
	}
	small := sizedTestPortfolio(t, prior.Managerial, []string{"lognormal"}, 100, 0.5, 0.4, 30, 2, 1)
	if _, err := LogMixtureGain(small); err == nil {
		t.Error("30 products: no error")
	}
}
