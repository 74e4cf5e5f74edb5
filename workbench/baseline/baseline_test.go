package baseline

import (
	"cmp"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
)

// randomPortfolio draws K instances with n_k in [1, maxN] of continuous
// (or, with integer set, small-count) data.
func randomPortfolio(seed uint64, k, maxN int, integer bool, ratios ...float64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := &data.Portfolio{Source: "test"}
	for i := range k {
		n := 1 + rng.IntN(maxN)
		scale := math.Exp(rng.NormFloat64())
		obs := make([]float64, n)
		for j := range obs {
			x := scale * math.Exp(0.5*rng.NormFloat64()) * 10
			if integer {
				x = math.Floor(x / scale / 2)
			}
			obs[j] = x
		}
		p.IDs = append(p.IDs, strconv.Itoa(i))
		p.Obs = append(p.Obs, obs)
		p.Ratios = append(p.Ratios, ratios[i%len(ratios)])
	}
	return p
}

// binnedPortfolio mimics Rossmann: d bins per instance, increasing values.
func binnedPortfolio(seed uint64, k, d, n int, ratio float64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 2))
	p := &data.Portfolio{Source: "binned"}
	for i := range k {
		sup := make([]float64, d)
		v := rng.Float64() * 100
		for g := range sup {
			v += 1 + rng.Float64()*50
			sup[g] = v
		}
		obs := make([]float64, n)
		for j := range obs {
			g := min(d-1, int(float64(d)*rng.Float64()*rng.Float64()*1.5))
			obs[j] = sup[g]
		}
		p.IDs = append(p.IDs, strconv.Itoa(i))
		p.Obs = append(p.Obs, obs)
		p.Ratios = append(p.Ratios, ratio)
		p.Support = append(p.Support, sup)
	}
	return p
}

func TestSAAEqualsOrderStatisticDefinition(t *testing.T) {
	for _, r := range []string{"0.5", "0.8", "0.95", "0.6", "0.3333", "0.75"} {
		rho, _ := strconv.ParseFloat(r, 64)
		exact, _ := new(big.Rat).SetString(r)
		p := randomPortfolio(3, 300, 21, true, rho)
		q, err := SAA{}.Decide(p)
		if err != nil {
			t.Fatal(err)
		}
		for k, obs := range p.Obs {
			// ceil(rho n) in exact arithmetic.
			prod := new(big.Rat).Mul(exact, new(big.Rat).SetInt64(int64(len(obs))))
			j := new(big.Int).Quo(prod.Num(), prod.Denom())
			if !prod.IsInt() {
				j.Add(j, big.NewInt(1))
			}
			s := slices.Clone(obs)
			slices.Sort(s)
			if want := s[j.Int64()-1]; q[k] != want {
				t.Fatalf("rho %s n %d: SAA %v, order statistic %d is %v", r, len(obs), q[k], j.Int64(), want)
			}
		}
	}
}

// bruteShrunk builds the shrunk distribution explicitly and takes its
// quantile with dist.Discrete.
func bruteShrunk(in *pooledInstance, cum []float64, alpha float64, skip int) float64 {
	var own []float64
	for j, x := range in.own {
		if j != skip {
			own = append(own, x)
		}
	}
	m := float64(len(own))
	w := 1.0
	if m > 0 {
		w = alpha / (m + alpha)
	}
	var sup, probs []float64
	prev := 0.0
	for g, c := range cum {
		sup = append(sup, in.scale*in.slots[g])
		probs = append(probs, w*(c-prev))
		prev = c
	}
	for _, x := range own {
		sup = append(sup, x)
		probs = append(probs, (1-w)/m)
	}
	d, err := dist.NewDiscrete(sup, probs)
	if err != nil {
		panic(err)
	}
	return d.Quantile(in.rho)
}

func TestShrunkenSAAMatchesExplicitMixture(t *testing.T) {
	for name, p := range map[string]*data.Portfolio{
		"continuous": randomPortfolio(5, 60, 8, false, 0.8, 0.3),
		"counts":     randomPortfolio(6, 60, 8, true, 0.9),
		"binned":     binnedPortfolio(7, 60, 12, 6, 0.95),
	} {
		for _, variant := range []struct {
			anchor   Anchor
			additive bool
		}{{GrandMeanAnchor, false}, {UniformAnchor, false}, {GrandMeanAnchor, true}} {
			anchor := variant.anchor
			s := &ShrunkenSAA{Anchor: anchor, Bins: 25, Additive: variant.additive}
			insts, cum, err := s.commonSupport(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, alpha := range []float64{0, 0.5, 3, 17, 180} {
				for k := range insts {
					in := &insts[k]
					for skip := -1; skip < len(in.own); skip++ {
						got, want := in.decide(alpha, skip, cum), bruteShrunk(in, cum, alpha, skip)
						if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
							t.Fatalf("%s anchor %d alpha %v instance %d skip %d: decide %v, explicit mixture %v", name, anchor, alpha, k, skip, got, want)
						}
					}
				}
			}
			// The chosen alpha minimises the brute-force pooled LOO cost.
			fit, err := s.Fit(p)
			if err != nil {
				t.Fatal(err)
			}
			for ai, alpha := range DefaultAlphas()[:10] {
				loo := 0.0
				for k := range insts {
					in := &insts[k]
					for i, x := range in.own {
						loo += problem.Newsvendor{}.Cost(bruteShrunk(in, cum, alpha, i), x, in.rho)
					}
				}
				loo /= float64(len(insts))
				if math.Abs(loo-fit.LOOCost[ai]) > 1e-9*loo {
					t.Fatalf("%s: LOO cost at alpha %v is %v, brute force %v", name, alpha, fit.LOOCost[ai], loo)
				}
			}
			if fit.LOOCost[slices.Index(DefaultAlphas(), fit.Alpha)] != slices.Min(fit.LOOCost) {
				t.Errorf("%s: chosen alpha %v does not minimise the LOO cost", name, fit.Alpha)
			}
		}
	}
}

func TestShrunkenSAALimits(t *testing.T) {
	for name, p := range map[string]*data.Portfolio{
		"continuous": randomPortfolio(8, 200, 9, false, 0.7),
		"binned":     binnedPortfolio(9, 200, 20, 10, 0.95),
	} {
		saa := mustDecide(t, SAA{}, p)
		zero, err := (&ShrunkenSAA{Alphas: []float64{0}}).Decide(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(saa, zero) {
			t.Errorf("%s: alpha=0 differs from SAA", name)
		}
		inf, err := (&ShrunkenSAA{Alphas: []float64{1e15}}).Decide(p)
		if err != nil {
			t.Fatal(err)
		}
		// The anchor quantile, computed independently from the definition.
		if name == "binned" {
			d := len(p.Support[0])
			p0 := make([]float64, d)
			for k, obs := range p.Obs {
				for _, x := range obs {
					p0[slices.Index(p.Support[k], x)] += 1 / float64(len(obs)*p.Len())
				}
			}
			c, g := 0.0, 0
			for g = range p0 {
				if c += p0[g]; c >= 0.95-1e-12 {
					break
				}
			}
			for k := range inf {
				if inf[k] != p.Support[k][g] {
					t.Fatalf("binned: alpha->inf gives %v, anchor quantile is bin %d = %v", inf[k], g, p.Support[k][g])
				}
			}
		} else {
			// In scaled units every instance gets the same anchor quantile.
			scale := robustScales(p)
			for k := range inf {
				if math.Abs(inf[k]/scale[k]-inf[0]/scale[0]) > 1e-12 {
					t.Fatalf("continuous: alpha->inf decisions are not one anchor quantile")
				}
			}
		}
	}
}

func TestShrunkenSAARejectsBadInput(t *testing.T) {
	p := randomPortfolio(1, 10, 5, false, 0.5)
	if _, err := (&ShrunkenSAA{Alphas: []float64{-1}}).Decide(p); err == nil {
		t.Error("negative alpha accepted")
	}
	p.Obs[3] = nil
	if _, err := (&ShrunkenSAA{}).Decide(p); err == nil {
		t.Error("instance without observations accepted")
	}
}

func normalEnv(t *testing.T, k, n int, seed uint64) *prior.Environment {
	t.Helper()
	return normalEnvSpread(t, k, n, 0.1, 0.2, seed)
}

// normalEnvSpread is normalEnv with the spread of product means and the
// within-product cv given (level 100).
func normalEnvSpread(t testing.TB, k, n int, spread, cv float64, seed uint64) *prior.Environment {
	t.Helper()
	pr := &prior.Prior{
		Name: "nn-test", Version: "1", Kind: prior.NormalNormal,
		Level: prior.Fixed(100), Spread: prior.Fixed(spread), CV: prior.Fixed(cv), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: k, Max: k}, Obs: prior.IntRange{Min: n, Max: n}, Ratio: prior.Fixed(0.8),
	}
	env, err := pr.Generate(seed, prior.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestNormalNormalBayesCostFormula(t *testing.T) {
	const k, n = 200_000, 5
	env := normalEnv(t, k, n, 11)
	b, err := BayesFromPrior(prior.NormalNormal, env.Hyper)
	if err != nil {
		t.Fatal(err)
	}
	q := mustDecide(t, b, env.Portfolio)
	r, err := problem.Evaluate(problem.Newsvendor{}, env.Truth, env.Portfolio.Ratios, q)
	if err != nil {
		t.Fatal(err)
	}
	sigma, tau := env.Hyper["sigma"], env.Hyper["tau"]
	vn := sigma * sigma * tau * tau / (sigma*sigma + n*tau*tau)
	want := distuv.UnitNormal.Prob(distuv.UnitNormal.Quantile(0.8)) * math.Sqrt(sigma*sigma+vn)
	var s2 float64
	for _, c := range r.Costs {
		s2 += (c - r.Cost) * (c - r.Cost)
	}
	se := math.Sqrt(s2/float64(k-1)) / math.Sqrt(k)
	if math.Abs(r.Cost-want) > 4*se {
		t.Errorf("Bayes mean cost %v, formula (b+h)phi(z)sqrt(sigma^2+v_n) = %v (se %v)", r.Cost, want, se)
	}
}

func TestEmpiricalBayesApproachesBayes(t *testing.T) {
	env := normalEnv(t, 10_000, 5, 12)
	gp := &prior.Prior{
		Name: "gp-test", Version: "1", Kind: prior.GammaPoisson,
		Level: prior.Fixed(8), Spread: prior.Fixed(0.5), CV: prior.Fixed(0), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: 10_000, Max: 10_000}, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: prior.Fixed(0.8),
	}
	genv, err := gp.Generate(13, prior.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env    *prior.Environment
		family Family
	}{{env, NormalFamily}, {genv, GammaPoissonFamily}} {
		b, err := BayesFromPrior(c.env.Prior.Kind, c.env.Hyper)
		if err != nil {
			t.Fatal(err)
		}
		qb := mustDecide(t, b, c.env.Portfolio)
		rb := mustEvaluate(t, c.env.Truth, c.env.Portfolio.Ratios, qb)
		for _, m := range []Estimation{Moments, MarginalLikelihood} {
			eb := EmpiricalBayes{Family: c.family, Method: m}
			q, err := eb.Decide(c.env.Portfolio)
			if err != nil {
				t.Fatal(err)
			}
			r := mustEvaluate(t, c.env.Truth, c.env.Portfolio.Ratios, q)
			if gap := (r.Cost - rb.Cost) / r.OracleCost; gap > 0.005 {
				t.Errorf("%s: EB cost exceeds Bayes by %.3f%% of oracle cost at K=10^4", eb.Name(), 100*gap)
			}
		}
	}
}

func TestEmpiricalBayesRejectsBadInput(t *testing.T) {
	one := randomPortfolio(1, 1, 5, false, 0.5)
	if _, err := (EmpiricalBayes{}).Decide(one); err == nil {
		t.Error("one instance accepted")
	}
	frac := randomPortfolio(1, 10, 5, false, 0.5)
	if _, err := (EmpiricalBayes{Family: GammaPoissonFamily}).Decide(frac); err == nil {
		t.Error("gamma-poisson EB accepted non-integer data")
	}
	singles := &data.Portfolio{IDs: []string{"a", "b"}, Obs: [][]float64{{1}, {2}}, Ratios: []float64{0.5, 0.5}}
	if _, err := (EmpiricalBayes{}).Decide(singles); err == nil {
		t.Error("normal EB without any within-instance replicate accepted")
	}
}

func TestPooledSAAIsScaleEquivariant(t *testing.T) {
	p := randomPortfolio(4, 100, 6, false, 0.8)
	q := mustDecide(t, PooledSAA{}, p)
	q2 := mustDecide(t, PooledSAA{}, scaledCopy(p, 3))
	for k := range q {
		if math.Abs(q2[k]-3*q[k]) > 1e-9*q2[k] {
			t.Fatalf("pooled SAA not scale equivariant at %d: %v vs 3*%v", k, q2[k], q[k])
		}
	}
}

// TestDecideChecksEveryDecision: baseline.Decide refuses NaN, infinite
// and negative decisions and a wrong count, naming the method and instance.
func TestDecideChecksEveryDecision(t *testing.T) {
	p := &data.Portfolio{Source: "obs.csv", IDs: []string{"a", "b"}, Obs: [][]float64{{1}, {2}}, Ratios: []float64{0.5, 0.5}}
	for _, q := range [][]float64{{1, math.NaN()}, {1, math.Inf(1)}, {1, -2}, {1}} {
		_, err := Decide(fixed{q}, p)
		if err == nil || !strings.Contains(err.Error(), "fixed") {
			t.Errorf("decisions %v: error %v", q, err)
		}
		if len(q) == 2 && (err == nil || !strings.Contains(err.Error(), `instance "b"`)) {
			t.Errorf("decisions %v: error %v does not name instance b", q, err)
		}
	}
	if q, err := Decide(fixed{[]float64{0, 3}}, p); err != nil || q[1] != 3 {
		t.Errorf("valid decisions refused: %v %v", q, err)
	}
}

type fixed struct{ q []float64 }

func (fixed) Name() string                                { return "fixed" }
func (f fixed) Decide(*data.Portfolio) ([]float64, error) { return f.q, nil }

// TestEmpiricalBayesOnHugeValues: EB fits in units of the largest
// observation, so values near 1e300 give finite decisions (they gave NaN
// for every instance when squares overflowed), and it is scale
// equivariant.
func TestEmpiricalBayesOnHugeValues(t *testing.T) {
	p := randomPortfolio(21, 40, 5, false, 0.8)
	for _, method := range []Estimation{Moments, MarginalLikelihood} {
		eb := EmpiricalBayes{Method: method}
		base, err := eb.Decide(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Decide(eb, scaledCopy(p, 1e295))
		if err != nil {
			t.Fatalf("%s: %v", eb.Name(), err)
		}
		for k := range q {
			if math.Abs(q[k]/1e295-base[k]) > 1e-6*max(1, base[k]) {
				t.Fatalf("%s: instance %d: %v at scale 1e295, %v at 1", eb.Name(), k, q[k]/1e295, base[k])
			}
		}
	}
}

// mustDecide runs a policy through the checked entry point and fails the
// test on any error.
func mustDecide(t *testing.T, pol Policy, p *data.Portfolio) []float64 {
	t.Helper()
	q, err := Decide(pol, p)
	if err != nil {
		t.Fatalf("%s: %v", pol.Name(), err)
	}
	return q
}

func mustEvaluate(t *testing.T, truth []dist.Distribution, ratios, q []float64) problem.Report {
	t.Helper()
	r, err := problem.Evaluate(problem.Newsvendor{}, truth, ratios, q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAdditiveShrunkenSAANeverMuchWorseThanSAA: on normal-normal
// portfolios (additive heterogeneity) Shrunken-SAA on a common support in
// the data's units loses to SAA by no more than a hair, where the scaled
// support (multiplicative) lost 1 to 7 points of regret.
func TestAdditiveShrunkenSAANeverMuchWorseThanSAA(t *testing.T) {
	pr, _ := prior.Lookup("normal-normal")
	for seed := uint64(1); seed <= 4; seed++ {
		env, err := pr.Generate(seed, prior.Options{Instances: 1500, Obs: prior.IntRange{Min: 4, Max: 4}, Ratio: 0.8})
		if err != nil {
			t.Fatal(err)
		}
		saa := mustEvaluate(t, env.Truth, env.Portfolio.Ratios, mustDecide(t, SAA{}, env.Portfolio))
		add := mustEvaluate(t, env.Truth, env.Portfolio.Ratios, mustDecide(t, &ShrunkenSAA{Additive: true}, env.Portfolio))
		if add.Regret > saa.Regret+0.005 {
			t.Errorf("seed %d: additive S-SAA regret %.4f, SAA %.4f", seed, add.Regret, saa.Regret)
		}
	}
}

// scaledCopy returns p with every observation multiplied by c.
func scaledCopy(p *data.Portfolio, c float64) *data.Portfolio {
	out := *p
	out.Obs = make([][]float64, len(p.Obs))
	for k, o := range p.Obs {
		out.Obs[k] = make([]float64, len(o))
		for i, x := range o {
			out.Obs[k][i] = c * x
		}
	}
	return &out
}

// Bayes-optimal with constant products and gross errors: a constant
// product orders its constant, an instance with a gross error decides as
// Bayes does from its other observations, and every other instance as
// plain normal-normal Bayes.
func TestNormalNormalBayesWithConstantsAndGrossErrors(t *testing.T) {
	const k, n = 2000, 5
	clean := normalEnv(t, k, n, 12)
	env := normalEnv(t, k, n, 12)
	prior.Alter(env, rand.New(rand.NewPCG(1, 2)), 0, 0.1, 0.002, 50)
	plain, err := BayesFromPrior(prior.NormalNormal, clean.Hyper)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BayesFromPrior(prior.NormalNormal, env.Hyper)
	if err != nil {
		t.Fatal(err)
	}
	q := mustDecide(t, b, env.Portfolio)
	constants, gross := 0, 0
	for i, o := range env.Portfolio.Obs {
		var want float64
		switch c := clean.Portfolio.Obs[i]; {
		case env.Truth[i].Quantile(0.01) == env.Truth[i].Quantile(0.99):
			constants++
			want = env.Truth[i].Mean()
		case !slices.Equal(o, c):
			gross++
			var rest []float64
			for j := range o {
				if o[j] == c[j] {
					rest = append(rest, o[j])
				}
			}
			want = plain.Hyper.Predictive(rest).Quantile(env.Portfolio.Ratios[i])
		default:
			want = plain.Hyper.Predictive(o).Quantile(env.Portfolio.Ratios[i])
		}
		if math.Abs(q[i]-want) > 1e-9*math.Abs(want) {
			t.Fatalf("instance %d (obs %v): Bayes orders %v, want %v", i, o, q[i], want)
		}
	}
	if constants == 0 || gross == 0 {
		t.Fatalf("%d constant products and %d with gross errors: the test sees neither kind", constants, gross)
	}
	// Gross errors too near the demand to be told apart: no Bayes policy.
	near := maps.Clone(env.Hyper)
	near["gross_factor"] = 2
	if _, err := BayesFromPrior(prior.NormalNormal, near); err == nil {
		t.Error("gross errors at 2x the mean: Bayes policy built")
	}
	// Other kinds do not model the alterations.
	gp := map[string]float64{"shape": 2, "rate": 1, "constant_share": 0.1}
	if _, err := BayesPolicy(prior.GammaPoisson, gp); err == nil {
		t.Error("gamma-Poisson with constant products: Bayes policy built")
	}
}

// Zero observations of normal demand are censored (the demand was at most
// zero): Bayes's order against an importance-weighted Monte Carlo of the
// posterior predictive of max(0, next demand).
func TestNormalNormalBayesCensoredObservations(t *testing.T) {
	h := Hyper{Family: NormalFamily, Mu0: 20, Tau: 30, Sigma: 25}
	b := Bayes{Hyper: h}
	cases := []struct {
		obs []float64
		rho float64
	}{{[]float64{0, 0}, 0.8}, {[]float64{0, 15}, 0.8}, {[]float64{0, 0, 0, 40}, 0.9}, {[]float64{0}, 0.6}, {[]float64{0, 0, 0, 0, 0}, 0.5}}
	p := &data.Portfolio{Source: "censored"}
	for i, c := range cases {
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, c.obs), append(p.Ratios, c.rho)
	}
	q := mustDecide(t, b, p)
	rng := rand.New(rand.NewPCG(7, 8))
	const draws = 1_000_000
	type draw struct{ d, w float64 }
	for i, c := range cases {
		sample := make([]draw, draws)
		total := 0.0
		for j := range sample {
			theta := h.Mu0 + h.Tau*rng.NormFloat64()
			w := 1.0
			for _, x := range c.obs {
				if x == 0 {
					w *= distuv.UnitNormal.CDF(-theta / h.Sigma)
				} else {
					w *= distuv.UnitNormal.Prob((x - theta) / h.Sigma)
				}
			}
			sample[j] = draw{max(0, theta+h.Sigma*rng.NormFloat64()), w}
			total += w
		}
		slices.SortFunc(sample, func(a, b draw) int { return cmp.Compare(a.d, b.d) })
		acc, want := 0.0, 0.0
		for _, s := range sample {
			acc += s.w / total
			if acc >= c.rho {
				want = s.d
				break
			}
		}
		t.Logf("observations %v, rho %v: Bayes %.3f, Monte Carlo %.3f", c.obs, c.rho, q[i], want)
		if math.Abs(q[i]-want) > 0.03*h.Sigma {
			t.Errorf("observations %v, rho %v: Bayes orders %.3f, Monte Carlo %.3f", c.obs, c.rho, q[i], want)
		}
		if len(c.obs) == 5 && q[i] != 0 {
			t.Errorf("observations %v: Bayes orders %v, want 0 (the atom at zero holds more than rho)", c.obs, q[i])
		}
	}
}

// With no zero among the observations the quadrature's marginal
// likelihood is the normal-normal closed form.
func TestCensoredMarginalMatchesClosedFormWithoutZeros(t *testing.T) {
	h := Hyper{Family: NormalFamily, Mu0: 20, Tau: 30, Sigma: 25}
	obs := []float64{12, 40, 3.5}
	_, _, got := censoredPosterior(h, obs)
	n, m, ss := 3.0, (12+40+3.5)/3.0, 0.0
	for _, x := range obs {
		ss += (x - m) * (x - m)
	}
	s2, v := h.Sigma*h.Sigma, h.Sigma*h.Sigma+n*h.Tau*h.Tau
	want := -n*math.Log(2*math.Pi)/2 - ((n-1)*math.Log(s2)+math.Log(v)+ss/s2+n*(m-h.Mu0)*(m-h.Mu0)/v)/2
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("log marginal %v, closed form %v", got, want)
	}
}

// randomCensoredPattern draws hyperparameters over several orders of
// magnitude and an instance's observations of max(0, X) under them, one
// of them set to zero.
func randomCensoredPattern(rng *rand.Rand) (Hyper, []float64) {
	h := Hyper{Family: NormalFamily, Mu0: 100 * rng.NormFloat64(), Tau: math.Exp(3 + 2*rng.NormFloat64()), Sigma: math.Exp(3 + rng.NormFloat64())}
	obs := make([]float64, 1+rng.IntN(12))
	theta := h.Mu0 + h.Tau*rng.NormFloat64()
	for i := range obs {
		obs[i] = max(0, theta+h.Sigma*rng.NormFloat64())
	}
	obs[rng.IntN(len(obs))] = 0
	return h, obs
}

// The fit's Gauss-Hermite log marginal agrees with censoredPosterior's
// Simpson grid on patterns from one zero among many observations to one
// positive among zeros and all zeros, with the prior mean far above, at, and below zero, and with the
// closed form where no observation is zero.
func TestCensoredLogMarginalAgainstSimpson(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	worst := 0.0
	for range 2000 {
		h, obs := randomCensoredPattern(rng)
		switch rng.IntN(4) {
		case 0: // zeros alone
			clear(obs)
		case 1: // one positive among zeros
			clear(obs)
			obs[0] = 40 * rng.Float64()
		}
		_, _, want := censoredPosterior(h, obs)
		got := censoredLogMarginal(h, obs)
		if d := math.Abs(got - want); d > 1e-9*max(1, math.Abs(want)) {
			t.Errorf("%+v, obs %v: Gauss-Hermite %v, Simpson %v", h, obs, got, want)
		} else {
			worst = max(worst, d)
		}
	}
	t.Logf("largest difference %.2g", worst)
}

// The gradient that eb-censored's fit follows is the log marginal
// likelihood's: central differences in (mu0, log tau, log sigma), on
// patterns with zeros alone (Simpson's grid) and with positive
// observations (Gauss-Hermite).
func TestCensoredLogMarginalGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for range 300 {
		h, obs := randomCensoredPattern(rng)
		if rng.IntN(4) == 0 {
			clear(obs)
		}
		_, g := censoredLogMarginalGrad(h, obs, true)
		at := func(j int, e float64) float64 {
			x := [3]float64{h.Mu0, math.Log(h.Tau), math.Log(h.Sigma)}
			x[j] += e
			return censoredLogMarginal(Hyper{Family: NormalFamily, Mu0: x[0], Tau: math.Exp(x[1]), Sigma: math.Exp(x[2])}, obs)
		}
		for j, step := range [3]float64{1e-4 * (h.Tau + h.Sigma), 1e-4, 1e-4} {
			want := (at(j, step) - at(j, -step)) / (2 * step)
			scale := 1.0
			if j == 0 {
				scale = 1 / min(h.Tau, h.Sigma)
			}
			if d := math.Abs(g[j] - want); d > 1e-5*max(scale, math.Abs(want)) {
				t.Errorf("%+v, obs %v: d/dx%d %v, central difference %v", h, obs, j, g[j], want)
			}
		}
	}
}

// eb-censored recovers the hyperparameters of a normal-normal portfolio
// whose products' means reach below zero (about 10% of them), where
// moment EB, reading zeros as exact, is biased; and decides as eb-ml on
// data without zeros.
func TestCensoredEmpiricalBayes(t *testing.T) {
	env := normalEnvSpread(t, 1000, 5, 0.8, 0.3, 3)
	h, err := EmpiricalBayes{Censored: true}.Estimate(env.Portfolio)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][2]float64{"mu0": {h.Mu0, 100}, "tau": {h.Tau, 80}, "sigma": {h.Sigma, 30}} {
		t.Logf("%s: estimated %.2f, true %v", name, v[0], v[1])
		if math.Abs(v[0]-v[1]) > 0.08*v[1] {
			t.Errorf("%s: estimated %.2f, true %v", name, v[0], v[1])
		}
	}
	plain, err := EmpiricalBayes{}.Estimate(env.Portfolio)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(plain.Sigma-30) < 2*math.Abs(h.Sigma-30) {
		t.Errorf("moment EB sigma %.2f as close to 30 as eb-censored's %.2f: the portfolio does not test censoring", plain.Sigma, h.Sigma)
	}
	clean := randomPortfolio(5, 200, 6, false, 0.7)
	got := mustDecide(t, EmpiricalBayes{Censored: true}, clean)
	want := mustDecide(t, EmpiricalBayes{Method: MarginalLikelihood}, clean)
	for k := range got {
		if math.Abs(got[k]-want[k]) > 1e-9*max(1, want[k]) {
			t.Fatalf("instance %d without zeros: eb-censored %v, eb-ml %v", k, got[k], want[k])
		}
	}
}
