package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// lognormalTestPortfolio draws K = 300 instances of n = 5 from a
// managerial or other prior of fixed hyperparameters.
func lognormalTestPortfolio(t *testing.T, kind string, families []string, level, spread, cv float64, seed uint64) *data.Portfolio {
	t.Helper()
	return sizedTestPortfolio(t, kind, families, level, spread, cv, 300, 5, seed)
}

// sizedTestPortfolio is lognormalTestPortfolio with k instances of n.
func sizedTestPortfolio(t *testing.T, kind string, families []string, level, spread, cv float64, k, n int, seed uint64) *data.Portfolio {
	t.Helper()
	pr := &prior.Prior{Name: "lognormal-test", Version: "1", Kind: kind, Families: families,
		Level: prior.Fixed(level), Spread: prior.Fixed(spread), CV: prior.Fixed(cv), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: k, Max: k}, Obs: prior.IntRange{Min: n, Max: n}, Ratio: prior.Fixed(0.9)}
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
			if math.Abs(s.Residuals-r.Residuals) > 1e-9*r.Residuals || math.Abs(s.Means-r.Means) > 1e-9*r.Means || math.Abs(s.Pairs-r.Pairs) > 1e-9*r.Pairs {
				t.Errorf("scaled by 8: statistics %v, %v, %v against %v, %v, %v", s.Residuals, s.Means, s.Pairs, r.Residuals, r.Means, r.Pairs)
			}
		}
	}
	t.Logf("lognormal portfolios: %d of 20 rejected", rejected)
	if rejected > 3 {
		t.Errorf("lognormal portfolios: %d of 20 rejected", rejected)
	}
	rejectsEach(t, "log-normal", func(p *data.Portfolio) (NormalityResult, error) { return LogNormalTest{}.Run(p) },
		testFamily{"normal-normal", prior.NormalNormal, nil, 200, 0.2, 0.2})
	zeros := &data.Portfolio{Source: "zeros.csv", IDs: []string{"a", "b", "c", "d"}, Ratios: []float64{0.9, 0.9, 0.9, 0.9},
		Obs: [][]float64{{0, 0}, {0, 0}, {0, 0}, {0, 0}}}
	if _, err := (LogNormalTest{}).Run(zeros); err == nil || !strings.Contains(err.Error(), "zeros.csv") {
		t.Errorf("all zeros: %v", err)
	}
}

// On 100 products of two or three days, two-mode days are rejected by
// the log pairs' statistic, where the Jarque-Bera statistics of so few
// days pass some of them; log-normal days of the same size are not.
func TestLogNormalTestFewDays(t *testing.T) {
	crit := AndersonDarlingCritical(0.01)
	for _, n := range []int{2, 3} {
		passed := 0
		for seed := uint64(1); seed <= 5; seed++ {
			r, err := LogNormalTest{}.Run(sizedTestPortfolio(t, prior.Managerial, []string{"mixture"}, 50, 1, 0.2, 100, n, seed))
			if err != nil {
				t.Fatal(err)
			}
			if !(r.Pairs > crit) || !r.Rejected {
				t.Errorf("two-mode, n = %d, seed %d: log pairs' statistic %.2f (critical %.2f), rejected %v", n, seed, r.Pairs, crit, r.Rejected)
			}
			if r.Residuals <= 9.21 && r.Means <= 9.21 {
				passed++
			}
		}
		t.Logf("two-mode, n = %d: %d of 5 pass both Jarque-Bera statistics", n, passed)
		rejected := 0
		for seed := uint64(1); seed <= 10; seed++ {
			r, err := LogNormalTest{}.Run(sizedTestPortfolio(t, prior.Managerial, []string{"lognormal"}, 50, 1, 2, 100, n, seed))
			if err != nil {
				t.Fatal(err)
			}
			if r.Rejected {
				rejected++
			}
		}
		if rejected > 2 {
			t.Errorf("log-normal, n = %d: %d of 10 rejected", n, rejected)
		}
	}
}

// The residuals' skewness z of gamma days, whose logs lean left, lies
// below the one-sided 5% point at K = 100; that of log-normal days of
// three to five mostly above it.
func TestLogNormalTestResidualSkew(t *testing.T) {
	point := distuv.UnitNormal.Quantile(0.05)
	for seed := uint64(1); seed <= 10; seed++ {
		r, err := LogNormalTest{}.Run(sizedTestPortfolio(t, prior.Managerial, []string{"gamma"}, 170, 0.6, 0.8, 100, 4, seed))
		if err != nil {
			t.Fatal(err)
		}
		if !(r.ResidualSkewZ < point) {
			t.Errorf("gamma days, seed %d: skewness z %.2f", seed, r.ResidualSkewZ)
		}
	}
	below := 0
	for _, n := range []int{3, 4, 5} {
		for seed := uint64(1); seed <= 10; seed++ {
			r, err := LogNormalTest{}.Run(sizedTestPortfolio(t, prior.Managerial, []string{"lognormal"}, 100, 0.8, 1, 100, n, seed))
			if err != nil {
				t.Fatal(err)
			}
			if r.ResidualSkewZ < point {
				below++
			}
		}
	}
	t.Logf("log-normal days: %d of 30 below %.2f", below, point)
	if below > 4 {
		t.Errorf("log-normal days: %d of 30 below %.2f", below, point)
	}
}

// At n = 2 the residuals of an instance are its log days' difference
// over sqrt 2 and its negative, so the residuals' statistic is the
// kurtosis term of the differences taken symmetrically, over as many
// values as instances: exactly, whatever the days. Over 400 log-normal
// portfolios of two days it exceeds its 1% point at about its level
// (over twice as many residuals as differences it had, 3.5% of them).
func TestLogNormalTestResidualsCountDegreesOfFreedom(t *testing.T) {
	p := sizedTestPortfolio(t, prior.Managerial, []string{"gamma"}, 100, 0.5, 0.8, 150, 2, 3)
	r, err := LogNormalTest{}.Run(p)
	if err != nil {
		t.Fatal(err)
	}
	var d []float64
	for _, o := range p.Obs {
		x := math.Log(o[0]) - math.Log(o[1])
		d = append(d, x, -x)
	}
	k := stat.ExKurtosis(d, nil)
	if want := float64(p.Len()) / 24 * k * k; math.Abs(r.Residuals-want) > 1e-9*want {
		t.Errorf("residuals' statistic %v, want %v", r.Residuals, want)
	}
	crit := distuv.ChiSquared{K: 2}.Quantile(0.99)
	rng := rand.New(rand.NewPCG(5, 6))
	exceeded := 0
	const portfolios = 400
	for range portfolios {
		q := &data.Portfolio{Source: "log-normal"}
		for k := range 100 {
			mu := 0.5 * rng.NormFloat64()
			q.IDs = append(q.IDs, strconv.Itoa(k))
			q.Obs = append(q.Obs, []float64{math.Exp(mu + 0.5*rng.NormFloat64()), math.Exp(mu + 0.5*rng.NormFloat64())})
			q.Ratios = append(q.Ratios, 0.9)
		}
		r, err := LogNormalTest{}.Run(q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Residuals > crit {
			exceeded++
		}
	}
	t.Logf("residuals' statistic beyond its 1%% point: %d of %d", exceeded, portfolios)
	if exceeded > portfolios/40 {
		t.Errorf("residuals' statistic beyond its 1%% point in %d of %d log-normal portfolios", exceeded, portfolios)
	}
}

// NormalTest keeps about its level on normal-normal portfolios, with
// and without products censored at zero (spread 0.6), rejects log-normal, gamma,
// two-mode and count portfolios, and names the source where too few
// instances sold something every day.
func TestNormalTest(t *testing.T) {
	for _, spread := range []float64{0.2, 0.6} {
		rejected := 0
		for seed := uint64(1); seed <= 20; seed++ {
			p := lognormalTestPortfolio(t, prior.NormalNormal, nil, 200, spread, 0.2, seed)
			r, err := NormalTest{}.Run(p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rejected {
				rejected++
			}
		}
		t.Logf("normal-normal, spread %g: %d of 20 rejected", spread, rejected)
		if rejected > 3 {
			t.Errorf("normal-normal, spread %g: %d of 20 rejected", spread, rejected)
		}
	}
	rejectsEach(t, "normal", func(p *data.Portfolio) (NormalityResult, error) { return NormalTest{}.Run(p) },
		testFamily{"lognormal", prior.Managerial, []string{"lognormal"}, 100, 1, 1.2})
	zeros := &data.Portfolio{Source: "zeros.csv", IDs: []string{"a", "b", "c", "d"}, Ratios: []float64{0.9, 0.9, 0.9, 0.9},
		Obs: [][]float64{{0, 1}, {3, 0}, {2, 2}, {0, 0}}}
	if _, err := (NormalTest{}).Run(zeros); err == nil || !strings.Contains(err.Error(), "zeros.csv") {
		t.Errorf("one instance without a zero: %v", err)
	}
}

// The pair differences' Anderson-Darling statistic rejects normal
// differences at about its level, and two-mode days of two observations,
// which pass both Jarque-Bera statistics, nearly always.
func TestNormalTestPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	rejected := 0
	const samples = 2000
	for range samples {
		d := make([]float64, 100)
		for i := range d {
			d[i] = 7 * rng.NormFloat64()
		}
		if andersonDarlingSymmetric(d) > AndersonDarlingCritical(0.01) {
			rejected++
		}
	}
	if rate := float64(rejected) / samples; rate < 0.005 || rate > 0.02 {
		t.Errorf("normal differences: %.4f rejected at 1%%", rate)
	}
	if c := AndersonDarlingCritical(0.05); math.Abs(c-0.78) > 1e-12 {
		t.Errorf("5%% critical value %v", c)
	}
	twoMode := 0
	for seed := uint64(1); seed <= 10; seed++ {
		pr := &prior.Prior{Name: "pairs-test", Version: "1", Kind: prior.Managerial, Families: []string{"mixture"},
			Level: prior.Fixed(100), Spread: prior.Fixed(0.2), CV: prior.Fixed(0.3), Noise: prior.Fixed(0),
			Instances: prior.IntRange{Min: 100, Max: 100}, Obs: prior.IntRange{Min: 2, Max: 2}, Ratio: prior.Fixed(0.8)}
		env, err := pr.Generate(seed, prior.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := NormalTest{}.Run(env.Portfolio)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rejected {
			twoMode++
		}
	}
	if twoMode < 9 {
		t.Errorf("two-mode days, n = 2: %d of 10 rejected", twoMode)
	}
}

// testFamily is a fixed-parameter prior of lognormalTestPortfolio.
type testFamily struct {
	name     string
	kind     string
	families []string
	level    float64
	spread   float64
	cv       float64
}

// rejectsEach checks that test rejects five portfolios of each of
// first, gamma, two-mode, gamma-Poisson and negative binomial demand.
func rejectsEach(t *testing.T, name string, test func(*data.Portfolio) (NormalityResult, error), first testFamily) {
	t.Helper()
	for _, o := range []testFamily{
		first,
		{"gamma", prior.Managerial, []string{"gamma"}, 100, 0.6, 0.5},
		{"two-mode", prior.Managerial, []string{"mixture"}, 100, 0.5, 0.3},
		{"gamma-Poisson", prior.GammaPoisson, nil, 3, 0.6, 0},
		{"negative binomial", prior.Managerial, []string{"negbinomial"}, 20, 0.6, 1},
	} {
		for seed := uint64(1); seed <= 5; seed++ {
			r, err := test(lognormalTestPortfolio(t, o.kind, o.families, o.level, o.spread, o.cv, seed))
			if err != nil {
				t.Fatal(err)
			}
			if !r.Rejected {
				t.Errorf("%s test, %s, seed %d: not rejected (statistics %.2f, %.2f, %.2f)", name, o.name, seed, r.Residuals, r.Means, r.Pairs)
			}
		}
	}
}

// Where some products sold zero, NormalTest compares its statistics with
// portfolios simulated from eb-censored's fit: normal-normal portfolios
// of two days with about a tenth of their products selling zero pass
// about as often as its level says (the asymptotic points rejected half
// of them), and normal days around log-normal means with zeros are
// rejected.
func TestNormalTestWithZeros(t *testing.T) {
	rejected := 0
	for seed := uint64(1); seed <= 10; seed++ {
		p := levelPortfolio(t, prior.NormalNormal, nil, 0.3, 0.5, 1000, 2, seed)
		zeros := 0
		for _, o := range p.Obs {
			if slices.Contains(o, 0) {
				zeros++
			}
		}
		if zeros < 30 {
			t.Fatalf("seed %d: %d products sold zero, too few to test the zeros' handling", seed, zeros)
		}
		r, err := NormalTest{Level: 0.05}.Run(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rejected {
			rejected++
		}
	}
	if rejected > 3 {
		t.Errorf("normal-normal with zeros: %d of 10 rejected at 5%%", rejected)
	}
	for seed := uint64(1); seed <= 5; seed++ {
		p := levelPortfolio(t, prior.Managerial, []string{"normal"}, 1, 0.5, 1000, 2, seed)
		r, err := NormalTest{Level: 0.05}.Run(p)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Rejected {
			t.Errorf("normal days around log-normal means, seed %d: not rejected (statistics %.2f, %.2f, %.2f)", seed, r.Residuals, r.Means, r.Pairs)
		}
	}
}

// NormalTest on a portfolio with zeros runs eb-censored's fit and
// normalBootstrap simulated portfolios: 1,000 products of five days,
// normal-normal spread 0.3, cv 0.5.
func BenchmarkNormalTestWithZeros(b *testing.B) {
	p := levelPortfolio(b, prior.NormalNormal, nil, 0.3, 0.5, 1000, 5, 1)
	for b.Loop() {
		if _, err := (NormalTest{}).Run(p); err != nil {
			b.Fatal(err)
		}
	}
}

// levelPortfolio draws k products of n days from a fixed-parameter prior
// of level 200.
func levelPortfolio(tb testing.TB, kind string, families []string, spread, cv float64, k, n int, seed uint64) *data.Portfolio {
	tb.Helper()
	pr := &prior.Prior{Name: "level-test", Version: "1", Kind: kind, Families: families,
		Level: prior.Fixed(200), Spread: prior.Fixed(spread), CV: prior.Fixed(cv), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: k, Max: k}, Obs: prior.IntRange{Min: n, Max: n}, Ratio: prior.Fixed(0.9)}
	env, err := pr.Generate(seed, prior.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return env.Portfolio
}

// The pair differences' excess kurtosis: -2 where every difference is
// plus or minus one amount (two modes, nothing else), 0 on average for
// normal differences, and large where a few differences are far out.
func TestPairsKurtosis(t *testing.T) {
	var modes, normal, heavy [][]float64
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 4000 {
		modes = append(modes, []float64{float64(i % 2), float64(1 - i%2), 7})
		normal = append(normal, []float64{rng.NormFloat64(), rng.NormFloat64()})
		d := rng.NormFloat64()
		if i%100 == 0 {
			d *= 10
		}
		heavy = append(heavy, []float64{d, 0})
	}
	if _, k := pairsStatistic(modes); math.Abs(k+2) > 1e-12 {
		t.Errorf("differences of plus or minus one: excess kurtosis %v, want -2", k)
	}
	if _, k := pairsStatistic(normal); math.Abs(k) > 0.25 {
		t.Errorf("normal differences: excess kurtosis %v, want about 0", k)
	}
	if _, k := pairsStatistic(heavy); !(k > 10) {
		t.Errorf("one difference in 100 ten times as wide: excess kurtosis %v, want above 10", k)
	}
	if ad, k := pairsStatistic(modes[:3]); ad != 0 || k != 0 {
		t.Errorf("three pairs: %v, %v, want 0, 0", ad, k)
	}
}
