package experiments

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

// SuiteVersion names the benchmark suite's families and grid; it changes
// whenever they do, so that a table says which suite it is. Version 2:
// truths are censored at zero like the observations (dist.NonNegative in
// prior.Prior.Generate), which moved the normal wide cells, where about
// 5% of products have a negative normal mean (their oracle used to order
// a negative amount, and Bayes took a zero for an exact observation).
const SuiteVersion = "2"

// SuiteFamily is one kind of portfolio of the benchmark suite: a prior
// with its options fixed, and optional changes after drawing (gross
// errors, constant products, products that never sell).
type SuiteFamily struct {
	Name, Description string
	Prior             *prior.Prior
	Obs               prior.IntRange
	Ratio             float64
	// Contaminate sets one observation in 5,000 (at least one) to 50
	// times the portfolio's mean: gross errors in the data, truths kept.
	Contaminate bool
	// ConstantShare of the products sell exactly their mean every day.
	ConstantShare float64
	// ZeroShare of the products never sell (intermittent demand).
	ZeroShare float64
	// Upper, when set, draws every second product from this prior
	// instead: a portfolio of two sales levels (StressSuite).
	Upper *prior.Prior
}

// SuiteMethods are the methods every suite cell runs: the classical peers,
// the shipped models, and Bayes-optimal and the oracle where they exist.
var SuiteMethods = []string{"saa", "pooled-saa", "shrunken-saa", "shrunken-saa-additive", "eb", "eb-censored", "eb-log",
	"eb-gamma-poisson", "eb-zi-gamma-poisson", "eb-negbinomial", "npmle", "npmle-poisson", "npmle-log", "transformer", "transformer@normal-normal", "transformer@retail-daily", "bayes", "oracle"}

// suiteClassical are the classical methods whose best a model is compared with.
var suiteClassical = []string{"saa", "pooled-saa", "shrunken-saa", "shrunken-saa-additive", "eb", "eb-censored", "eb-log", "eb-gamma-poisson", "eb-zi-gamma-poisson", "eb-negbinomial", "npmle", "npmle-poisson", "npmle-log"}

func fixedPrior(name, kind string, families []string, level, spread, cv float64) *prior.Prior {
	return &prior.Prior{Name: name, Version: SuiteVersion, Kind: kind, Families: families,
		Level: prior.Fixed(level), Spread: prior.Fixed(spread), CV: prior.Fixed(cv), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: 100, Max: 100}, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: prior.Range{Min: 0.5, Max: 0.95}}
}

// Suite returns the families of the benchmark suite (version SuiteVersion).
func Suite() []SuiteFamily {
	nn := func(spread, cv float64) *prior.Prior {
		return fixedPrior("suite-normal-normal", prior.NormalNormal, nil, 200, spread, cv)
	}
	n := func(k int) prior.IntRange { return prior.IntRange{Min: k, Max: k} }
	gp := fixedPrior("suite-gamma-poisson", prior.GammaPoisson, nil, 3, 0.6, 0)
	return []SuiteFamily{
		{Name: "normal tight n=5 rho=0.9", Prior: nn(0.2, 0.2), Obs: n(5), Ratio: 0.9},
		{Name: "normal wide n=5 rho=0.9", Prior: nn(0.6, 0.2), Obs: n(5), Ratio: 0.9},
		{Name: "normal n=1 rho=0.8", Prior: nn(0.2, 0.2), Obs: n(1), Ratio: 0.8},
		{Name: "normal n=2 rho=0.8", Prior: nn(0.2, 0.2), Obs: n(2), Ratio: 0.8},
		{Name: "normal n=3 rho=0.95", Prior: nn(0.2, 0.2), Obs: n(3), Ratio: 0.95},
		{Name: "normal n=10 rho=0.7", Prior: nn(0.2, 0.3), Obs: n(10), Ratio: 0.7},
		{Name: "normal n_k 1-10 rho=0.9", Prior: nn(0.2, 0.2), Obs: prior.IntRange{Min: 1, Max: 10}, Ratio: 0.9},
		{Name: "normal n=5 rho=0.5", Prior: nn(0.2, 0.2), Obs: n(5), Ratio: 0.5},
		{Name: "normal n=5 rho=0.99", Prior: nn(0.2, 0.2), Obs: n(5), Ratio: 0.99},
		{Name: "gamma-Poisson mean 3 n=5", Prior: gp, Obs: n(5), Ratio: 0.8},
		{Name: "gamma-Poisson mean 3 n=10", Prior: gp, Obs: n(10), Ratio: 0.8},
		{Name: "negative binomial n=5", Prior: fixedPrior("suite-negbinomial", prior.Managerial, []string{"negbinomial"}, 20, 0.6, 1), Obs: n(5), Ratio: 0.8},
		{Name: "intermittent (40% never sell) n=6", Prior: gp, Obs: n(6), Ratio: 0.6, ZeroShare: 0.4},
		{Name: "lognormal heavy-tailed n=5", Prior: fixedPrior("suite-lognormal", prior.Managerial, []string{"lognormal"}, 100, 1, 1.2), Obs: n(5), Ratio: 0.9},
		{Name: "bimodal mixtures n=5", Prior: fixedPrior("suite-bimodal", prior.Managerial, []string{"mixture"}, 100, 0.5, 0.3), Obs: n(5), Ratio: 0.8},
		{Name: "normal, gross errors n=5", Prior: nn(0.2, 0.2), Obs: n(5), Ratio: 0.9, Contaminate: true},
		{Name: "normal, 10% constant products n=5", Prior: nn(0.2, 0.2), Obs: n(5), Ratio: 0.9, ConstantShare: 0.1},
	}
}

// StressFamilies are portfolios outside the suite that ordinary
// portfolios do not test: two groups of products whose sales levels lie
// four orders of magnitude apart, half of the products in each (a shop
// selling cases of bulk goods beside single machines). No Bayes-optimal
// policy is computed for them; the lower group's own regret is reported
// beside the whole portfolio's, which the upper group's costs make up.
func StressFamilies() []SuiteFamily {
	nn := func(level float64) *prior.Prior {
		return fixedPrior("stress-normal-normal", prior.NormalNormal, nil, level, 0.2, 0.2)
	}
	n := func(k int) prior.IntRange { return prior.IntRange{Min: k, Max: k} }
	gp := fixedPrior("stress-gamma-poisson", prior.GammaPoisson, nil, 3, 0.6, 0)
	nb := fixedPrior("stress-negbinomial", prior.Managerial, []string{"negbinomial"}, 1e5, 0.6, 1)
	return []SuiteFamily{
		{Name: "two sales levels, normal 10 and 10^4 n=5", Prior: nn(10), Upper: nn(1e4), Obs: n(5), Ratio: 0.9},
		{Name: "two sales levels, normal 10 and 10^4 n=1", Prior: nn(10), Upper: nn(1e4), Obs: n(1), Ratio: 0.9},
		{Name: "two sales levels, counts 3 and 10^5 n=5", Prior: gp, Upper: nb, Obs: n(5), Ratio: 0.8},
	}
}

// OutsideFamilies are the suite's kinds of data at other parameters:
// other sales levels, spreads and noise, n from 1 to 20 (two days of
// noisy normal, two-mode, log-normal, gamma-Poisson and negative
// binomial demand among them), rho from 0.6 to
// 0.99, gamma-Poisson means of 1 and 30, 20% and 60% of products never
// selling, negative binomial counts with 40% and 30% never selling, 30%
// constant products, gross errors on a wide portfolio of n = 3. The default model's recipe and rule selection were measured on
// the suite's own cells; these say whether what it learned carries over
// to portfolios of the same kinds that nobody tuned it on.
func OutsideFamilies() []SuiteFamily {
	nn := func(level, spread, cv float64) *prior.Prior {
		return fixedPrior("outside-normal-normal", prior.NormalNormal, nil, level, spread, cv)
	}
	n := func(k int) prior.IntRange { return prior.IntRange{Min: k, Max: k} }
	gp := func(level, spread float64) *prior.Prior {
		return fixedPrior("outside-gamma-poisson", prior.GammaPoisson, nil, level, spread, 0)
	}
	man := func(family string, level, spread, cv float64) *prior.Prior {
		return fixedPrior("outside-"+family, prior.Managerial, []string{family}, level, spread, cv)
	}
	return []SuiteFamily{
		{Name: "normal mean 20 n=5 rho=0.9", Prior: nn(20, 0.2, 0.2), Obs: n(5), Ratio: 0.9},
		{Name: "normal mean 5000 spread 0.3 cv 0.1 n=5 rho=0.7", Prior: nn(5000, 0.3, 0.1), Obs: n(5), Ratio: 0.7},
		{Name: "normal n=2 rho=0.99", Prior: nn(200, 0.2, 0.2), Obs: n(2), Ratio: 0.99},
		{Name: "normal n=1 spread 0.3 cv 0.3 rho=0.95", Prior: nn(200, 0.3, 0.3), Obs: n(1), Ratio: 0.95},
		{Name: "normal n=1 rho=0.6", Prior: nn(200, 0.2, 0.2), Obs: n(1), Ratio: 0.6},
		{Name: "normal n=20 cv 0.5 rho=0.9", Prior: nn(200, 0.3, 0.5), Obs: n(20), Ratio: 0.9},
		{Name: "normal n=4 spread 0.4 cv 0.4 rho=0.6", Prior: nn(200, 0.4, 0.4), Obs: n(4), Ratio: 0.6},
		{Name: "normal wide n_k 2-6 rho=0.8", Prior: nn(100, 0.6, 0.3), Obs: prior.IntRange{Min: 2, Max: 6}, Ratio: 0.8},
		{Name: "gamma-Poisson mean 1 n=5", Prior: gp(1, 0.8), Obs: n(5), Ratio: 0.8},
		{Name: "gamma-Poisson mean 30 n=3", Prior: gp(30, 0.5), Obs: n(3), Ratio: 0.9},
		{Name: "gamma-Poisson mean 10 n=20", Prior: gp(10, 1), Obs: n(20), Ratio: 0.7},
		{Name: "negative binomial mean 5 n=5", Prior: man("negbinomial", 5, 0.6, 1), Obs: n(5), Ratio: 0.8},
		{Name: "negative binomial mean 200 n=3", Prior: man("negbinomial", 200, 0.8, 0.5), Obs: n(3), Ratio: 0.9},
		{Name: "intermittent (20% never sell) mean 10 n=10", Prior: gp(10, 0.6), Obs: n(10), Ratio: 0.7, ZeroShare: 0.2},
		{Name: "intermittent (60% never sell) n=4", Prior: gp(3, 0.6), Obs: n(4), Ratio: 0.8, ZeroShare: 0.6},
		{Name: "lognormal mean 1000 cv 0.6 n=10", Prior: man("lognormal", 1000, 0.5, 0.6), Obs: n(10), Ratio: 0.8},
		{Name: "lognormal cv 2 n=3", Prior: man("lognormal", 50, 1, 2), Obs: n(3), Ratio: 0.9},
		{Name: "bimodal mixtures mean 50 spread 1 n=3", Prior: man("mixture", 50, 1, 0.2), Obs: n(3), Ratio: 0.8},
		{Name: "normal wide, gross errors n=3", Prior: nn(200, 0.6, 0.2), Obs: n(3), Ratio: 0.8, Contaminate: true},
		{Name: "normal, 30% constant products n=5", Prior: nn(200, 0.3, 0.2), Obs: n(5), Ratio: 0.8, ConstantShare: 0.3},
		// Appended, not inserted: a family's seeds follow its index.
		{Name: "normal n=2 spread 0.3 cv 0.5 rho=0.9", Prior: nn(200, 0.3, 0.5), Obs: n(2), Ratio: 0.9},
		{Name: "bimodal mixtures spread 0.2 n=2", Prior: man("mixture", 100, 0.2, 0.3), Obs: n(2), Ratio: 0.8},
		{Name: "negative binomial mean 10 n=2", Prior: man("negbinomial", 10, 0.6, 0.8), Obs: n(2), Ratio: 0.8},
		{Name: "gamma-Poisson mean 3 n=2", Prior: gp(3, 0.6), Obs: n(2), Ratio: 0.8},
		{Name: "lognormal cv 0.4 n=2", Prior: man("lognormal", 100, 0.5, 0.4), Obs: n(2), Ratio: 0.8},
		{Name: "intermittent negative binomial (40% never sell) mean 20 n=5", Prior: man("negbinomial", 20, 0.6, 1), Obs: n(5), Ratio: 0.8, ZeroShare: 0.4},
		{Name: "intermittent negative binomial (30% never sell) mean 50 n=2", Prior: man("negbinomial", 50, 0.5, 0.5), Obs: n(2), Ratio: 0.9, ZeroShare: 0.3},
	}
}

// Generate draws the family's environment of K instances from seed.
func (f SuiteFamily) Generate(seed uint64, k int) (*prior.Environment, error) {
	o := prior.Options{Instances: k, Obs: f.Obs, Ratio: f.Ratio}
	if f.Upper != nil {
		o.Instances = k - k/2
	}
	env, err := f.Prior.Generate(seed, o)
	if err != nil {
		return nil, err
	}
	if f.Upper != nil {
		o.Instances = k / 2
		up, err := f.Upper.Generate(seed^0x7570706572, o)
		if err != nil {
			return nil, err
		}
		env = interleave(env, up)
	}
	grossRate, grossFactor := 0.0, 0.0
	if f.Contaminate {
		grossRate, grossFactor = 1.0/5000, 50
	}
	prior.Alter(env, rand.New(rand.NewPCG(seed, 0x5717e)), f.ZeroShare, f.ConstantShare, grossRate, grossFactor)
	return env, nil
}

// interleave is the environment of lower's and upper's products in turn
// (lower first; lower has as many products as upper or one more), so
// that a smaller portfolio of the family is the first products of a
// larger one, as for every family; its prior has no Bayes-optimal
// policy.
func interleave(lower, upper *prior.Environment) *prior.Environment {
	env := &prior.Environment{Seed: lower.Seed, Hyper: map[string]float64{},
		Prior:     &prior.Prior{Name: lower.Prior.Name + "+" + upper.Prior.Name, Version: SuiteVersion, Kind: prior.Blend, Components: []*prior.Prior{lower.Prior, upper.Prior}},
		Portfolio: &data.Portfolio{Source: lower.Portfolio.Source}}
	p := env.Portfolio
	for i := range lower.Portfolio.Len() + upper.Portfolio.Len() {
		from := lower
		if !lowerGroup(i) {
			from = upper
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, fmt.Sprint(i+1)), append(p.Obs, from.Portfolio.Obs[i/2]), append(p.Ratios, from.Portfolio.Ratios[i/2])
		env.Truth = append(env.Truth, from.Truth[i/2])
	}
	return env
}

// lowerGroup reports whether product i of a two-level family's
// environment (interleave) is of the lower level.
func lowerGroup(i int) bool { return i%2 == 0 }

// SuiteOptions configure a suite run.
type SuiteOptions struct {
	Instances []int // K values (default 100 and 1,000)
	Seeds     int   // environments per cell (default 3)
	Seed      uint64
	Methods   []string // default SuiteMethods
	// Families to run (default Suite()); Title heads the table (default
	// "Benchmark suite").
	Families []SuiteFamily
	Title    string
	// FinetuneSteps caps the finetuned variants' finetuning (0: default).
	FinetuneSteps int
	// WholeUnits records every day in whole units, as most sales data
	// are: each observation is rounded to the nearest whole number after
	// drawing (gross errors and constant products included); the truths
	// stay as drawn. Count families do not change. Where a day moves,
	// "bayes" does not apply: the Bayes-optimal policy given rounded days
	// is not computed (the known prior's policy for exact days is no
	// longer optimal).
	WholeUnits bool
}

// title is the table's title: Title, or "Benchmark suite", with the
// whole units said.
func (o SuiteOptions) title() string {
	t := cmp.Or(o.Title, "Benchmark suite")
	if o.WholeUnits && !strings.HasSuffix(t, wholeUnitsTitle) {
		t += wholeUnitsTitle
	}
	return t
}

const wholeUnitsTitle = ", days recorded in whole units"

// errRoundedBayes says why "bayes" does not apply to days rounded by
// SuiteOptions.WholeUnits.
var errRoundedBayes = errors.New("days recorded in whole units: the Bayes-optimal policy given rounded days is not computed")

// recordWholeUnits rounds every observation of env's portfolio to the
// nearest whole number, on a copy of the portfolio, and says whether any
// moved.
func recordWholeUnits(env *prior.Environment) (moved bool) {
	p := *env.Portfolio
	p.Obs = make([][]float64, len(env.Portfolio.Obs))
	for i, o := range env.Portfolio.Obs {
		p.Obs[i] = make([]float64, len(o))
		for j, x := range o {
			p.Obs[i][j] = math.Round(x)
			moved = moved || p.Obs[i][j] != x
		}
	}
	env.Portfolio = &p
	return moved
}

// SuiteCell is one family at one K: each method's regret per seed.
type SuiteCell struct {
	Family string
	K      int
	// Regret[method] lists the relative regret per seed (NaN where the
	// method does not apply, e.g. Bayes without a known prior, count
	// models on non-integer data); Errors says why.
	Regret map[string][]float64
	Errors map[string]string
	// ConstantDeviation is, on families with constant products, the
	// largest relative deviation of a method's order from the constant.
	ConstantDeviation map[string]float64
	// ErrorShift is, on families with gross errors, per seed, how much
	// the gross errors change the relative regret of the products whose
	// data they leave alone: that regret on the contaminated portfolio
	// minus on the same portfolio without the errors.
	ErrorShift map[string][]float64
	// Nested is, on cells whose K exceeds the suite's smallest K0, per
	// seed, the relative regret over the first K0 products: the products
	// of the K0 cell (environments draw products in order), so that it
	// compares deciding those products with K rather than K0 products'
	// data, free of the difference between product samples.
	Nested map[string][]float64
	// Lower is, on two-level families, per seed, the relative regret over
	// the products of the lower level.
	Lower map[string][]float64
}

// SuiteResult is a whole suite run.
type SuiteResult struct {
	Provenance provenance.Record
	Options    SuiteOptions
	Cells      []SuiteCell
}

// RunSuite runs every family at every K with every method.
func RunSuite(o SuiteOptions, log io.Writer) (*SuiteResult, error) {
	if o.Instances == nil {
		o.Instances = []int{100, 1000}
	}
	if o.Seeds == 0 {
		o.Seeds = 3
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Methods == nil {
		o.Methods = SuiteMethods
	}
	if o.Families == nil {
		o.Families = Suite()
	}
	o.Title = o.title()
	res := &SuiteResult{Provenance: provenance.New("suite", o.Seed, "go"), Options: o}
	models := map[string]*model.Model{}
	for fi, f := range o.Families {
		for _, k := range o.Instances {
			cell := SuiteCell{Family: f.Name, K: k, Regret: map[string][]float64{}, Errors: map[string]string{},
				ConstantDeviation: map[string]float64{}, ErrorShift: map[string][]float64{}, Nested: map[string][]float64{}, Lower: map[string][]float64{}}
			k0 := slices.Min(o.Instances)
			for s := range o.Seeds {
				seed := o.Seed*1_000_003 + uint64(fi)*10_007 + uint64(s)
				env, err := f.Generate(seed, k)
				if err != nil {
					return nil, fmt.Errorf("suite %s K=%d: %w", f.Name, k, err)
				}
				rounded := o.WholeUnits && recordWholeUnits(env)
				var clean *prior.Environment
				var untouched []bool
				if f.Contaminate {
					cf := f
					cf.Contaminate = false
					if clean, err = cf.Generate(seed, k); err != nil {
						return nil, fmt.Errorf("suite %s K=%d: %w", f.Name, k, err)
					}
					if o.WholeUnits {
						recordWholeUnits(clean)
					}
					untouched = make([]bool, k)
					for i := range untouched {
						untouched[i] = slices.Equal(clean.Portfolio.Obs[i], env.Portfolio.Obs[i])
					}
				}
				for _, name := range o.Methods {
					r := math.NaN()
					pol, err := Method(name, MethodOptions{Env: env, Models: models, Seed: seed, FinetuneSteps: o.FinetuneSteps})
					if spec, _ := ParseMethod(name); rounded && spec.Base == "bayes" {
						err = errRoundedBayes
					}
					var q []float64
					if err == nil {
						q, err = baseline.Decide(pol, env.Portfolio)
					}
					if err == nil {
						var rep problem.Report
						if rep, err = problem.Evaluate(problem.Newsvendor{}, env.Truth, env.Portfolio.Ratios, q); err == nil {
							r = rep.Regret
						}
					}
					if err != nil {
						cell.Errors[name] = firstLine(err.Error())
					}
					cell.Regret[name] = append(cell.Regret[name], r)
					if k > k0 && q != nil {
						rep, err := problem.Evaluate(problem.Newsvendor{}, env.Truth[:k0], env.Portfolio.Ratios[:k0], q[:k0])
						if err != nil {
							return nil, fmt.Errorf("suite %s K=%d: %s: %w", f.Name, k, name, err)
						}
						cell.Nested[name] = append(cell.Nested[name], rep.Regret)
					}
					if f.Upper != nil && q != nil {
						lower, err := regretOver(env, q, lowerGroup)
						if err != nil {
							return nil, fmt.Errorf("suite %s K=%d: %s: %w", f.Name, k, name, err)
						}
						cell.Lower[name] = append(cell.Lower[name], lower)
					}
					if clean != nil && q != nil && name != "bayes" {
						shift, err := errorShift(name, o, models, seed, env, clean, q, untouched)
						if err != nil {
							// It decides the portfolio with the errors
							// but not the one without (eb-negbinomial's
							// prior can fit only with the errors): no
							// shift to report, and the reason in the notes.
							shift = math.NaN()
							if cell.Errors[name] == "" {
								cell.Errors[name] = "without the gross errors: " + firstLine(err.Error())
							}
						}
						cell.ErrorShift[name] = append(cell.ErrorShift[name], shift)
					}
					if f.ConstantShare > 0 && q != nil {
						for i, d := range env.Truth {
							if v, ok := d.(*dist.Discrete); ok && len(v.Support()) == 1 && v.Support()[0] > 0 {
								c := v.Support()[0]
								cell.ConstantDeviation[name] = max(cell.ConstantDeviation[name], math.Abs(q[i]-c)/c)
							}
						}
					}
				}
			}
			if log != nil {
				fmt.Fprintf(log, "%s, K = %d: done\n", f.Name, k)
			}
			res.Cells = append(res.Cells, cell)
		}
	}
	return res, nil
}

// errorShift is the change in the untouched products' relative regret
// that the gross errors cause: method name's decisions q on env against
// its decisions on clean, the same portfolio without the errors.
func errorShift(name string, o SuiteOptions, models map[string]*model.Model, seed uint64, env, clean *prior.Environment, q []float64, untouched []bool) (float64, error) {
	pol, err := Method(name, MethodOptions{Env: clean, Models: models, Seed: seed, FinetuneSteps: o.FinetuneSteps})
	if err != nil {
		return 0, err
	}
	cq, err := baseline.Decide(pol, clean.Portfolio)
	if err != nil {
		return 0, err
	}
	keep := func(i int) bool { return untouched[i] }
	dirty, err := regretOver(env, q, keep)
	if err != nil {
		return 0, err
	}
	base, err := regretOver(env, cq, keep)
	return dirty - base, err
}

// regretOver is the relative regret of decisions q (one per product of
// env) over the products that keep selects.
func regretOver(env *prior.Environment, q []float64, keep func(i int) bool) (float64, error) {
	var truths []dist.Distribution
	var ratios, qs []float64
	for i := range q {
		if keep(i) {
			truths, ratios, qs = append(truths, env.Truth[i]), append(ratios, env.Portfolio.Ratios[i]), append(qs, q[i])
		}
	}
	rep, err := problem.Evaluate(problem.Newsvendor{}, truths, ratios, qs)
	return rep.Regret, err
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// defaultAndBest returns the default model's mean regret, and the best
// classical method's mean regret and name (+Inf and "" if none applies).
func (c SuiteCell) defaultAndBest() (def, best float64, bestName string) {
	best = math.Inf(1)
	for _, m := range suiteClassical {
		if mean, _ := suiteMean(c.Regret[m]); mean < best {
			best, bestName = mean, m
		}
	}
	def, _ = suiteMean(c.Regret["transformer"])
	return def, best, bestName
}

// suiteMean is the mean over seeds and its standard error (NaN if any
// seed is NaN, or the method did not run).
func suiteMean(x []float64) (float64, float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		if math.IsNaN(v) {
			return math.NaN(), math.NaN()
		}
	}
	if len(x) < 2 {
		return x[0], 0
	}
	m, sd := stat.MeanStdDev(x, nil)
	return m, sd / math.Sqrt(float64(len(x)))
}

// WriteSuite writes the suite's table (figure, when set, is the path of
// SuiteFigure's image to link): each family and K, every method's
// regret (percent, mean ± s.e. over seeds), the best classical method,
// and the default model's gaps to it and to Bayes-optimal; then the
// averages and the constant-product check.
func WriteSuite(w io.Writer, r *SuiteResult, figure string) error {
	fmt.Fprintf(w, "# %s v%s\n\n", r.Options.title(), SuiteVersion)
	envs := fmt.Sprintf("%d environments", r.Options.Seeds)
	if r.Options.Seeds == 1 {
		envs = "1 environment"
	}
	fmt.Fprintf(w, "Generated by `ptft suite` (seed %d, %s per cell, ptft %s, backend %s). Relative regret, (cost - oracle cost) / oracle cost, in percent, mean ± standard error over environments; exact expected cost. \"—\": the method does not apply (see the notes below the table). Gap columns: the default model's regret minus the best classical method's, and minus Bayes-optimal's, in points.\n\n",
		r.Options.Seed, envs, provenance.CodeVersion(), r.Provenance.Backend)
	if r.Options.WholeUnits {
		fmt.Fprint(w, "Days recorded in whole units (`--whole-units`): every observation was rounded to the nearest whole number before any method saw it, gross errors and constant products included; the truths, and so the oracle and the regrets, are the drawn ones. Count families are unchanged. Bayes-optimal is shown only where no day moved: the known prior's policy assumes exact days.\n\n")
	}
	header := append([]string{"family", "K"}, r.Options.Methods...)
	header = append(header, "best classical", "default - best classical", "default - Bayes")
	t := NewTable(header...)
	var gapsBest, gapsBayes []float64
	var defaults, bests []float64
	for _, c := range r.Cells {
		row := []string{c.Family, fmt.Sprint(c.K)}
		for _, m := range r.Options.Methods {
			mean, se := suiteMean(c.Regret[m])
			if math.IsNaN(mean) {
				row = append(row, "—")
			} else {
				row = append(row, fmt.Sprintf("%.2f ± %.2f", 100*mean, 100*se))
			}
		}
		def, best, bestName := c.defaultAndBest()
		bayes, _ := suiteMean(c.Regret["bayes"])
		row = append(row, fmt.Sprintf("%s %.2f", bestName, 100*best))
		row = append(row, signed(100*(def-best)))
		if math.IsNaN(bayes) {
			row = append(row, "—")
		} else {
			row = append(row, signed(100*(def-bayes)))
			gapsBayes = append(gapsBayes, def-bayes)
		}
		if !math.IsNaN(def) && !math.IsInf(best, 1) {
			gapsBest = append(gapsBest, def-best)
			defaults, bests = append(defaults, def), append(bests, best)
		}
		t.Row(row...)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	if figure != "" {
		fmt.Fprintf(w, "\n![the default model's gap to the best classical method](%s)\n", figure)
	}
	if len(gapsBest) > 0 {
		fmt.Fprintf(w, "\nAveraged over the %d cells: default model %.2f%%, best classical method per cell %.2f%%; the default model's gap to the best classical method %+.2f points on average (worst %+.2f)",
			len(gapsBest), 100*stat.Mean(defaults, nil), 100*stat.Mean(bests, nil), 100*stat.Mean(gapsBest, nil), 100*slices.Max(gapsBest))
		if len(gapsBayes) > 0 {
			fmt.Fprintf(w, ", to Bayes-optimal %+.2f points on average over the %d cells where Bayes is known (worst %+.2f)", 100*stat.Mean(gapsBayes, nil), len(gapsBayes), 100*slices.Max(gapsBayes))
		}
		fmt.Fprint(w, ".\n")
	}
	writeMethodAverages(w, r)
	if err := writeSeedTable(w, r, "\nThe lower level's products alone: their relative regret, in percent (mean ± s.e. over environments), which the whole portfolio's, made up of the upper level's costs, does not show:\n\n",
		"%.2f ± %.2f", func(c SuiteCell) map[string][]float64 { return c.Lower }); err != nil {
		return err
	}
	if slices.ContainsFunc(r.Cells, func(c SuiteCell) bool { return len(c.ConstantDeviation) > 0 }) {
		fmt.Fprint(w, "\nConstant products (they sell exactly their mean every day): the largest relative deviation of an order from the constant:\n\n")
		constants := methodTable(r, func(c SuiteCell) bool { return len(c.ConstantDeviation) > 0 }, func(c SuiteCell, m string) (string, bool) {
			d, ok := c.ConstantDeviation[m]
			return fmt.Sprintf("%.2f%%", 100*d), ok
		})
		if err := constants.Write(w); err != nil {
			return err
		}
	}
	if err := writeNested(w, r); err != nil {
		return err
	}
	if err := writeSeedTable(w, r, "\nGross errors (one observation in 5,000 set to 50 times the portfolio's mean): how much they change the relative regret of the products whose data they leave alone, in points (regret on the contaminated portfolio minus on the same portfolio without the errors, mean ± s.e. over environments):\n\n",
		"%+.2f ± %.2f", func(c SuiteCell) map[string][]float64 { return c.ErrorShift }); err != nil {
		return err
	}
	// Why methods do not apply, by method and family.
	notes := map[string]string{}
	for _, c := range r.Cells {
		for m, e := range c.Errors {
			line := fmt.Sprintf("%s (%s)", e, c.Family)
			if !strings.Contains(notes[m], c.Family) && strings.Count(notes[m], "\n") < 4 {
				notes[m] += "\n  - " + line
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprint(w, "\nWhere a method does not apply (at most 4 families each):\n\n")
		for _, m := range slices.Sorted(maps.Keys(notes)) {
			fmt.Fprintf(w, "- `%s`:%s\n", m, notes[m])
		}
	}
	return nil
}

// writeSeedTable writes, after heading, the table of the cells where
// values holds per-seed numbers: each method's mean ± s.e. in percent,
// formatted by format; nothing where no cell holds any.
func writeSeedTable(w io.Writer, r *SuiteResult, heading, format string, values func(SuiteCell) map[string][]float64) error {
	include := func(c SuiteCell) bool { return len(values(c)) > 0 }
	if !slices.ContainsFunc(r.Cells, include) {
		return nil
	}
	fmt.Fprint(w, heading)
	return methodTable(r, include, func(c SuiteCell, m string) (string, bool) {
		x, ok := values(c)[m]
		if !ok {
			return "", false
		}
		mean, se := suiteMean(x)
		if math.IsNaN(mean) {
			return "", false
		}
		return fmt.Sprintf(format, 100*mean, 100*se), true
	}).Write(w)
}

// writeMethodAverages writes each classical method's average regret over
// the cells where it applies, beside the default model's over the same
// cells: the comparison with the best single classical method.
func writeMethodAverages(w io.Writer, r *SuiteResult) {
	var parts []string
	for _, m := range suiteClassical {
		var own, def []float64
		for _, c := range r.Cells {
			x, _ := suiteMean(c.Regret[m])
			d, _ := suiteMean(c.Regret["transformer"])
			if len(c.Regret[m]) > 0 && !math.IsNaN(x) && len(c.Regret["transformer"]) > 0 && !math.IsNaN(d) {
				own, def = append(own, x), append(def, d)
			}
		}
		if len(own) > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f%% (default %.2f%%, %d cells)", m, 100*stat.Mean(own, nil), 100*stat.Mean(def, nil), len(own)))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "\nEach classical method's average regret over the cells where it applies, and the default model's over the same cells: %s.\n", strings.Join(parts, "; "))
	}
}

// methodTable is a table of the cells include selects, one column per
// method, each entry what value gives ("—" where it gives none).
func methodTable(r *SuiteResult, include func(SuiteCell) bool, value func(c SuiteCell, method string) (string, bool)) *Table {
	t := NewTable(append([]string{"family", "K"}, r.Options.Methods...)...)
	for _, c := range r.Cells {
		if !include(c) {
			continue
		}
		row := []string{c.Family, fmt.Sprint(c.K)}
		for _, m := range r.Options.Methods {
			if v, ok := value(c, m); ok {
				row = append(row, v)
			} else {
				row = append(row, "—")
			}
		}
		t.Row(row...)
	}
	return t
}

// writeNested writes the scaling check: each method's regret at the
// smallest K against its regret on the same products at each larger K.
func writeNested(w io.Writer, r *SuiteResult) error {
	k0 := slices.Min(r.Options.Instances)
	byKey := map[string]SuiteCell{}
	for _, c := range r.Cells {
		byKey[fmt.Sprint(c.Family, "|", c.K)] = c
	}
	include := func(c SuiteCell) bool {
		_, ok := byKey[fmt.Sprint(c.Family, "|", k0)]
		return c.K != k0 && ok
	}
	if !slices.ContainsFunc(r.Cells, include) {
		return nil
	}
	fmt.Fprintf(w, "\nScaling: on the same %d products, regret when deciding them from K products' data minus from %d products' data, in points (mean ± s.e. over environments; negative: more products help). A smaller portfolio is the first products of a larger one, so this is free of the difference between product samples that the table's K rows carry.\n\n", k0, k0)
	t := methodTable(r, include, func(c SuiteCell, m string) (string, bool) {
		big, a := c.Nested[m], byKey[fmt.Sprint(c.Family, "|", k0)].Regret[m]
		if len(big) != len(a) || len(big) == 0 || math.IsNaN(a[0]) {
			return "", false
		}
		d := make([]float64, len(big))
		for i := range d {
			d[i] = big[i] - a[i]
		}
		mean, se := suiteMean(d)
		return fmt.Sprintf("%+.2f ± %.2f", 100*mean, 100*se), true
	})
	return t.Write(w)
}

func signed(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%+.2f", v)
}

// SuiteFigure draws, for every family, the default model's gap to the best
// classical method (points of regret; above zero a classical method wins)
// at each K, as grouped bars ("svg" or "png").
func SuiteFigure(r *SuiteResult, format string) ([]byte, error) {
	var families []string
	gaps := map[int]map[string]float64{}
	for _, c := range r.Cells {
		if !slices.Contains(families, c.Family) {
			families = append(families, c.Family)
		}
		def, best, _ := c.defaultAndBest()
		if gaps[c.K] == nil {
			gaps[c.K] = map[string]float64{}
		}
		gaps[c.K][c.Family] = 100 * (def - best)
	}
	ks := make([]int, 0, len(gaps))
	for k := range gaps {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	p := plot.New()
	p.Title.Text = r.Options.title() + " v" + SuiteVersion + ": default model minus best classical method (clipped at ±40)"
	p.Y.Label.Text = "regret gap (points; > 0: a classical method wins)"
	w := vg.Points(9)
	for i, k := range ks {
		vals := make(plotter.Values, len(families))
		for j, f := range families {
			// Clipped so that one family does not flatten the others.
			vals[j] = math.Max(-40, math.Min(40, gaps[k][f]))
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(ks)-1)/2)
		p.Add(bars)
		p.Legend.Add(fmt.Sprintf("K = %d", k), bars)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(families...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YTop
	var b bytes.Buffer
	if err := drawTo(&b, p, format, 10*vg.Inch, 6*vg.Inch); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
