package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// twoPoint draws K instances with theta in {10 (weight 0.3), 20}, n
// observations N(theta, 1) each.
func twoPoint(seed uint64, k, n int) (*data.Portfolio, []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := &data.Portfolio{Source: "two-point"}
	theta := make([]float64, k)
	for i := range k {
		theta[i] = 20
		if rng.Float64() < 0.3 {
			theta[i] = 10
		}
		obs := make([]float64, n)
		for j := range obs {
			obs[j] = theta[i] + rng.NormFloat64()
		}
		p.IDs = append(p.IDs, strconv.Itoa(i))
		p.Obs = append(p.Obs, obs)
		p.Ratios = append(p.Ratios, 0.8)
	}
	return p, theta
}

func TestNPMLERecoversATwoPointMixture(t *testing.T) {
	p, _ := twoPoint(1, 5000, 3)
	g, err := NPMLE{}.Fit(p)
	if err != nil {
		t.Fatal(err)
	}
	near := func(c float64) float64 {
		w := 0.0
		for j, a := range g.Atoms {
			if math.Abs(a-c) < 1.5 {
				w += g.Weights[j]
			}
		}
		return w
	}
	if w10, w20 := near(10), near(20); math.Abs(w10-0.3) > 0.03 || math.Abs(w20-0.7) > 0.03 {
		t.Errorf("mass near 10: %.3f (want 0.3), near 20: %.3f (want 0.7)", w10, w20)
	}
	if math.Abs(g.Sigma-1) > 0.05 {
		t.Errorf("pooled sigma %v, want 1", g.Sigma)
	}
}

// TestNPMLEEqualsBayesWhenTheGridHoldsThePrior: on the true atoms, the
// fitted weights approach the true ones and the decisions the Bayes
// decisions (the posterior-predictive quantile under the true G).
func TestNPMLEEqualsBayesWhenTheGridHoldsThePrior(t *testing.T) {
	p, _ := twoPoint(2, 20000, 3)
	e := NPMLE{Grid: []float64{10, 20}, Iterations: 2000}
	q, err := e.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.Fit(p)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(g.Weights[0]-0.3) > 0.01 {
		t.Errorf("weight of atom 10: %v, want 0.3", g.Weights[0])
	}
	// Bayes: the same predictive with the true weights and sigma 1.
	bayes := &MixingDistribution{Atoms: []float64{10, 20}, Weights: []float64{0.3, 0.7}, Sigma: 1}
	st := statsOf(p)
	want := bayes.decideNormal(p, &normalStats{mean: st.mean, n: st.n, sigma: 1})
	for k := range q {
		if math.Abs(q[k]-want[k]) > 0.05 {
			t.Fatalf("instance %d: npmle %v, Bayes %v", k, q[k], want[k])
		}
	}
}

// TestNPMLEMonotoneInOwnData: raising one instance's observations raises
// its decision (normal and Poisson forms).
func TestNPMLEMonotoneInOwnData(t *testing.T) {
	p, _ := twoPoint(3, 300, 4)
	counts := randomPortfolio(4, 300, 6, true, 0.7)
	for _, c := range []struct {
		e NPMLE
		p *data.Portfolio
	}{{NPMLE{}, p}, {NPMLE{Family: PoissonMixture}, counts}} {
		base, err := c.e.Decide(c.p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{0, 7, 42} {
			prev := base[k]
			for step := 1; step <= 4; step++ {
				pp := *c.p
				pp.Obs = slices.Clone(c.p.Obs)
				o := slices.Clone(c.p.Obs[k])
				for i := range o {
					o[i] += float64(step)
				}
				pp.Obs[k] = o
				q, err := c.e.Decide(&pp)
				if err != nil {
					t.Fatal(err)
				}
				if q[k] < prev-1e-9 {
					t.Errorf("%s: instance %d: decision fell from %v to %v when its data rose by %d", c.e.Name(), k, prev, q[k], step)
				}
				prev = q[k]
			}
		}
	}
}

// TestNPMLEPoissonSeesZeroInflation: a portfolio where 40% of products
// never sell puts about 0.4 of the mixing weight on the zero atom and
// orders nothing for a product with no sales.
func TestNPMLEPoissonSeesZeroInflation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	p := &data.Portfolio{Source: "zip"}
	for i := range 4000 {
		lambda := 0.0
		if rng.Float64() >= 0.4 {
			lambda = 1 + 4*rng.Float64()
		}
		obs := make([]float64, 6)
		for j := range obs {
			obs[j] = float64(poissonDraw(rng, lambda))
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, obs), append(p.Ratios, 0.6)
	}
	e := NPMLE{Family: PoissonMixture}
	g, err := e.Fit(p)
	if err != nil {
		t.Fatal(err)
	}
	if g.Atoms[0] != 0 || math.Abs(g.Weights[0]-0.4) > 0.03 {
		t.Errorf("zero atom %v with weight %v, want weight 0.4", g.Atoms[0], g.Weights[0])
	}
	q := mustDecide(t, e, p)
	for k, o := range p.Obs {
		if slices.Max(o) == 0 && q[k] != 0 {
			t.Fatalf("instance %d never sold, decision %v", k, q[k])
		}
	}
}

func poissonDraw(rng *rand.Rand, lambda float64) int {
	if lambda == 0 {
		return 0
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// TestLogEBIsScaleEquivariantAndHandlesZeros: eb-log decisions scale with
// the data, its offset is 0 without zeros and half the smallest positive
// value with them, and on lognormal data it is within 1% of oracle cost
// of the log-scale Bayes policy.
func TestLogEBIsScaleEquivariantAndHandlesZeros(t *testing.T) {
	pr, _ := prior.Lookup("lognormal-portfolio")
	env, err := pr.Generate(3, prior.Options{Instances: 500, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	p := env.Portfolio
	q, err := LogEB{}.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	q7 := mustDecide(t, LogEB{}, scaledCopy(p, 7))
	for k := range q {
		if math.Abs(q7[k]-7*q[k]) > 1e-9*q7[k] {
			t.Fatalf("instance %d: %v at scale 7, %v at 1", k, q7[k], q[k])
		}
	}
	if c, _ := (LogEB{}).Offset(p); c != 0 {
		t.Errorf("offset %v on positive data", c)
	}
	z := &data.Portfolio{IDs: []string{"a", "b"}, Obs: [][]float64{{0, 4, 6}, {2, 3}}, Ratios: []float64{0.5, 0.5}}
	if c, _ := (LogEB{}).Offset(z); c != 1 {
		t.Errorf("offset %v with zeros, want half of 2", c)
	}
	if q, err := (LogEB{}).Decide(z); err != nil || !(q[0] >= 0) {
		t.Errorf("with zeros: %v %v", q, err)
	}
	b, err := BayesFromPrior(pr.Kind, env.Hyper)
	if err != nil || !b.Log {
		t.Fatalf("no log-scale Bayes for %s: %v", pr.Name, err)
	}
	qb, err := b.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	re := mustEvaluate(t, env.Truth, p.Ratios, q)
	rb := mustEvaluate(t, env.Truth, p.Ratios, qb)
	if re.Regret > rb.Regret+0.01 {
		t.Errorf("eb-log regret %.4f, Bayes %.4f: more than 1 point apart", re.Regret, rb.Regret)
	}
	if prior.Families[lognormalFamilyIndex] != "lognormal" {
		t.Fatalf("lognormalFamilyIndex %d is %q in prior.Families", lognormalFamilyIndex, prior.Families[lognormalFamilyIndex])
	}
}

// TestNPMLEOnACommonSupport: in bin units (every store on slots 0..d-1)
// the NPMLE mixes discretised location-scale atoms: it orders support
// points only, raising a store's data never lowers its order, and it
// recovers a two-shape portfolio's weights closely enough to beat SAA on
// held-out truth.
func TestNPMLEOnACommonSupport(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	d := 20
	sup := make([]float64, d)
	for i := range sup {
		sup[i] = float64(i)
	}
	// Two kinds of stores: low and narrow, high and wide.
	p := &data.Portfolio{Source: "bins"}
	for i := range 600 {
		mu, sd := 5.0, 1.5
		if i%3 == 0 {
			mu, sd = 12, 3
		}
		obs := make([]float64, 8)
		for j := range obs {
			obs[j] = math.Max(0, math.Min(19, math.Round(mu+sd*rng.NormFloat64())))
		}
		p.IDs, p.Obs, p.Ratios, p.Support = append(p.IDs, strconv.Itoa(i)), append(p.Obs, obs), append(p.Ratios, 0.9), append(p.Support, sup)
	}
	e := NPMLE{}
	q := mustDecide(t, e, p)
	for k, v := range q {
		if v != math.Trunc(v) || v < 0 || v > 19 {
			t.Fatalf("instance %d: order %v is not a support point", k, v)
		}
	}
	for _, k := range []int{1, 3} {
		pp := *p
		pp.Obs = slices.Clone(p.Obs)
		o := slices.Clone(p.Obs[k])
		for i := range o {
			o[i] = math.Min(19, o[i]+2)
		}
		pp.Obs[k] = o
		if q2 := mustDecide(t, e, &pp); q2[k] < q[k] {
			t.Errorf("instance %d: order fell from %v to %v when its data rose", k, q[k], q2[k])
		}
	}
	// Low stores order about mu + 1.28 sd = 7 (bin), high ones about 16.
	lowSum, highSum := 0.0, 0.0
	for k, v := range q {
		if k%3 == 0 {
			highSum += v
		} else {
			lowSum += v
		}
	}
	if low, high := lowSum/400, highSum/200; math.Abs(low-7) > 1 || math.Abs(high-16) > 1.5 {
		t.Errorf("mean orders %.2f (low stores, want about 7) and %.2f (high, about 16)", low, high)
	}
	if !commonSupport(p) || commonSupport(binnedPortfolio(1, 5, 4, 3, 0.5)) {
		t.Error("commonSupport misjudges")
	}
}

// TestManagerialBayesHoldsEveryPosterior: for products in the bulk and far
// in the tails of the prior of product means (observations that pin a
// mean down three to four prior standard deviations out, all zeros, one
// day), ManagerialBayes orders what a brute-force integration over 50,000
// nodes of log m does. A grid of the prior's own quantiles, shared by all
// products, ordered 107 for a Poisson product selling 154-174 a day whose
// posterior mean is 167.
func TestManagerialBayesHoldsEveryPosterior(t *testing.T) {
	cases := []struct {
		fam               string
		level, spread, cv float64
		obs               [][]float64
	}{
		{"poisson", 15, 0.8, 0, [][]float64{{154, 168, 171, 174}, {0, 0, 0, 0}, {14}, {1, 0, 2, 1, 0, 0, 3, 1, 0, 1}, {900, 1000}}},
		{"negbinomial", 20, 0.6, 0.3, [][]float64{{150, 210, 180}, {0, 0}, {20, 25, 19, 22, 18}}},
		{"gamma", 100, 0.5, 0.2, [][]float64{{560, 600, 640}, {9, 11}, {100}}},
		{"mixture", 100, 0.5, 0.3, [][]float64{{40, 150, 45, 160, 42}, {700, 720}, {5}, {107.6, 161.0, 120.6, 185.6, 107.5}}},
		{"lognormal", 100, 1, 1.2, [][]float64{{0.5, 3, 1}, {5000, 20000}, {100}}},
		{"normal", 100, 0.3, 0.1, [][]float64{{260, 255, 270}, {0, 0, 1}, {100}}},
	}
	for _, c := range cases {
		b := ManagerialBayes{Family: c.fam, Level: c.level, Spread: c.spread, CV: c.cv, MixWeight: 0.4, MixGap: 0.6}
		p := &data.Portfolio{Source: c.fam}
		for i, o := range c.obs {
			p.IDs = append(p.IDs, strconv.Itoa(i))
			p.Obs = append(p.Obs, o)
			p.Ratios = append(p.Ratios, 0.85)
		}
		q := mustDecide(t, b, p)
		for k, o := range c.obs {
			want := bruteForceBayes(b, o, 0.85)
			if math.Abs(q[k]-want) > 1e-3*max(1, want) {
				t.Errorf("%s %v: ordered %.4f, brute force %.4f", c.fam, o, q[k], want)
			}
		}
	}
}

// A share of never-sellers (prior.Alter's zero_share): products whose
// every day is 0 order the quantile of the mixture of 0, with the
// posterior probability that they never sell, and their posterior
// predictive, as brute force does; the others order as without it; and
// a larger share orders less.
func TestManagerialBayesNeverSellers(t *testing.T) {
	obs := [][]float64{{0, 0, 0, 0, 0}, {0, 0}, {0}, {3, 0, 1}, {40, 12}}
	for _, c := range []struct {
		fam               string
		level, spread, cv float64
		rho               float64
	}{
		{"negbinomial", 20, 0.6, 1, 0.95},
		{"negbinomial", 50, 0.5, 0.5, 0.9},
		{"poisson", 3, 0.6, 0, 0.8},
		{"normal", 20, 0.5, 0.5, 0.99},
	} {
		p := &data.Portfolio{Source: c.fam}
		for i, o := range obs {
			p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, c.rho)
		}
		plain := ManagerialBayes{Family: c.fam, Level: c.level, Spread: c.spread, CV: c.cv}
		q0 := mustDecide(t, plain, p)
		prev := q0
		for _, zero := range []float64{0.2, 0.4, 0.6} {
			b := plain
			b.Zero = zero
			q := mustDecide(t, b, p)
			for k, o := range obs {
				want := bruteForceBayes(b, o, c.rho)
				if math.Abs(q[k]-want) > 1e-3*max(1, want) {
					t.Errorf("%s, zero share %v, %v: ordered %.4f, brute force %.4f", c.fam, zero, o, q[k], want)
				}
				if slices.Max(o) > 0 && q[k] != q0[k] {
					t.Errorf("%s, zero share %v, %v: ordered %v, without never-sellers %v", c.fam, zero, o, q[k], q0[k])
				}
				if q[k] > prev[k] {
					t.Errorf("%s, zero share %v, %v: ordered %v, more than at a smaller share (%v)", c.fam, zero, o, q[k], prev[k])
				}
			}
			prev = q
		}
	}
}

// bruteForceBayes integrates over 50,000 equally spaced nodes of log m
// from 10^-4 to 10^3 times the prior's level.
func bruteForceBayes(b ManagerialBayes, obs []float64, rho float64) float64 {
	const nodes = 50_000
	s2 := math.Log1p(b.Spread * b.Spread)
	mu, sd := math.Log(b.Level)-s2/2, math.Sqrt(s2)
	lo, hi := math.Log(b.Level*1e-4), math.Log(b.Level*1e3)
	var ds []dist.Distribution
	var lw []float64
	top := math.Inf(-1)
	for i := range nodes {
		x := lo + (float64(i)+0.5)*(hi-lo)/nodes
		d := dist.NonNegative(prior.FamilyDist(b.Family, math.Exp(x), b.CV, b.MixWeight, b.MixGap))
		l := -(x - mu) * (x - mu) / (2 * sd * sd)
		for _, y := range obs {
			l += d.(dist.LogDensity).LogProb(y)
		}
		ds, lw = append(ds, d), append(lw, l)
		top = max(top, l)
	}
	var keep []dist.Distribution
	var w []float64
	total := 0.0
	for i, l := range lw {
		if v := math.Exp(l - top); v > 1e-14 {
			keep, w = append(keep, ds[i]), append(w, v)
			total += v
		}
	}
	never := 0.0
	if b.Zero > 0 && soldNothing(obs) {
		// The marginal probability of the zeros: the sum times the
		// node spacing and the prior density's normalising constant.
		evidence := math.Exp(top) * total * (hi - lo) / nodes / (sd * math.Sqrt(2*math.Pi))
		never = b.Zero / (b.Zero + (1-b.Zero)*evidence)
	}
	cdf := func(x float64) float64 {
		c := 0.0
		for i, d := range keep {
			c += w[i] / total * d.CDF(x)
		}
		return never + (1-never)*c
	}
	discrete := b.Family == "poisson" || b.Family == "negbinomial"
	a, z := 0.0, b.Level*1e3
	for range 200 {
		m := (a + z) / 2
		if discrete {
			m = math.Floor(m)
		}
		if cdf(m) >= rho-probTol {
			z = m
		} else {
			a = m
		}
		if discrete && z-a <= 1 {
			break
		}
	}
	if discrete && cdf(a) >= rho-probTol {
		return a
	}
	return z
}

// TestManagerialBayesByQuadrature: on lognormal portfolios the quadrature
// Bayes policy agrees with the exact one on log demand, and on negative
// binomial and two-mode portfolios no data-driven method beats it.
func TestManagerialBayesByQuadrature(t *testing.T) {
	pr, _ := prior.Lookup("lognormal-portfolio")
	env, err := pr.Generate(4, prior.Options{Instances: 300, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.85})
	if err != nil {
		t.Fatal(err)
	}
	h := env.Hyper
	quad := ManagerialBayes{Family: "lognormal", Level: h["level"], Spread: h["spread"], CV: h["cv"]}
	exact, err := BayesFromPrior(pr.Kind, h)
	if err != nil {
		t.Fatal(err)
	}
	rq := mustEvaluate(t, env.Truth, env.Portfolio.Ratios, mustDecide(t, quad, env.Portfolio))
	re := mustEvaluate(t, env.Truth, env.Portfolio.Ratios, mustDecide(t, exact, env.Portfolio))
	if math.Abs(rq.Regret-re.Regret) > 0.002 {
		t.Errorf("lognormal: quadrature Bayes regret %.4f, exact %.4f", rq.Regret, re.Regret)
	}
	for _, fam := range []string{"negbinomial", "mixture", "gamma"} {
		p := &prior.Prior{Name: "test-" + fam, Version: "1", Kind: prior.Managerial, Families: []string{fam},
			Level: prior.Fixed(30), Spread: prior.Fixed(0.5), CV: prior.Fixed(0.6), Noise: prior.Fixed(0),
			Instances: prior.IntRange{Min: 300, Max: 300}, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: prior.Fixed(0.8)}
		env, err := p.Generate(5, prior.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := BayesPolicy(p.Kind, env.Hyper)
		if err != nil {
			t.Fatalf("%s: %v", fam, err)
		}
		rb := mustEvaluate(t, env.Truth, env.Portfolio.Ratios, mustDecide(t, b, env.Portfolio))
		for _, pol := range []Policy{SAA{}, &ShrunkenSAA{}, &ShrunkenSAA{Additive: true}, EmpiricalBayes{}, LogEB{}, NPMLE{}} {
			if r := mustEvaluate(t, env.Truth, env.Portfolio.Ratios, mustDecide(t, pol, env.Portfolio)); r.Regret < rb.Regret-0.002 {
				t.Errorf("%s: %s regret %.4f below Bayes-optimal %.4f", fam, pol.Name(), r.Regret, rb.Regret)
			}
		}
	}
}
