// Package prior generates synthetic portfolios hierarchically, the way a
// manager describes one (DESIGN.md §2): environment hyperparameters drawn
// from stated ranges, per-instance parameters from that population, then
// observations and the exact true distribution of every instance.
//
// A Prior is a named, versioned configuration, usable as a Go value or a
// JSON file. Built-in priors serve pretraining (normal-normal,
// gamma-poisson, lognormal-portfolio, mixed-managerial, retail-daily); the
// truth-* priors are deliberately different "true environments" (heavy
// tails, bimodal demand, over-dispersion, noisy observations) that stand in
// for reality.
//
// Every draw comes from the seed given to Generate: the same prior, seed and
// options give the same environment, byte for byte.
package prior

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

// Range is a closed interval drawn uniformly, or log-uniformly when Log is
// set. Min == Max fixes the value.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	Log bool    `json:"log,omitempty"`
}

// Fixed returns the range holding v alone.
func Fixed(v float64) Range { return Range{Min: v, Max: v} }

func (r Range) draw(rng *rand.Rand) float64 {
	if r.Min == r.Max {
		return r.Min
	}
	u := rng.Float64()
	if r.Log {
		return math.Exp(math.Log(r.Min) + u*(math.Log(r.Max)-math.Log(r.Min)))
	}
	return r.Min + u*(r.Max-r.Min)
}

func (r Range) check(name string, lo, hi float64, open bool) error {
	bad := func(v float64) bool {
		if math.IsNaN(v) || v < lo || v > hi {
			return true
		}
		return open && (v == lo || v == hi)
	}
	if bad(r.Min) || bad(r.Max) || r.Min > r.Max || (r.Log && r.Min <= 0) {
		return fmt.Errorf("range %s [%v, %v] invalid (allowed within [%v, %v])", name, r.Min, r.Max, lo, hi)
	}
	return nil
}

// IntRange is a closed integer interval drawn uniformly.
type IntRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Draw returns an integer drawn uniformly from [Min, Max].
func (r IntRange) Draw(rng *rand.Rand) int {
	return r.Min + rng.IntN(r.Max-r.Min+1)
}

// Kinds of prior.
const (
	// NormalNormal: theta_k ~ N(mu0, tau^2), demand ~ N(theta_k, sigma^2),
	// with mu0 = Level, tau = Spread*mu0, sigma = CV*mu0.
	NormalNormal = "normal-normal"
	// GammaPoisson: lambda_k ~ Gamma with mean Level and coefficient of
	// variation Spread; demand ~ Poisson(lambda_k).
	GammaPoisson = "gamma-poisson"
	// Managerial: product means m_k lognormal with mean Level and
	// coefficient of variation Spread; demand of a family drawn from
	// Families, mean m_k, within-product coefficient of variation CV;
	// observations carry additive noise of standard deviation Noise*m_k.
	Managerial = "managerial"
	// Blend: each environment comes from one of Components.
	Blend = "blend"
)

// Families a Managerial prior may draw.
var Families = []string{"normal", "lognormal", "gamma", "poisson", "negbinomial", "mixture"}

// Prior is a named, versioned hierarchical generator of environments.
type Prior struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Kind        string `json:"kind"`
	Description string `json:"description,omitempty"`
	// Families lists the demand families of a Managerial prior, one drawn
	// per environment.
	Families []string `json:"families,omitempty"`
	// Level is the portfolio's mean demand level.
	Level Range `json:"level"`
	// Spread is the coefficient of variation of mean demand across products.
	Spread Range `json:"spread"`
	// CV is the within-product coefficient of variation of demand.
	CV Range `json:"cv"`
	// Noise is the observation-noise standard deviation relative to the
	// product's mean demand.
	Noise Range `json:"noise"`
	// Instances is the range of K, the portfolio size.
	Instances IntRange `json:"instances"`
	// Obs is the range of n_k, drawn per instance.
	Obs IntRange `json:"obs"`
	// Ratio is the range of the critical ratio, drawn per environment.
	Ratio Range `json:"ratio"`
	// Components are the priors a Blend prior draws from, one chosen
	// uniformly per environment (list one twice to weight it). The
	// blend's Instances, Obs and Ratio apply to every component; its
	// other ranges are unused.
	Components []*Prior `json:"components,omitempty"`
	// Zeros, Constants and GrossErrors change some environments after
	// drawing (see Alter): products that never sell, products that sell
	// exactly their mean every day, and gross errors in the observations.
	Zeros       *Alteration `json:"zeros,omitempty"`
	Constants   *Alteration `json:"constants,omitempty"`
	GrossErrors *Alteration `json:"gross_errors,omitempty"`
}

// Alteration is a change applied to an environment with probability
// Chance: Share is drawn per environment (the share of products, or for
// gross errors of observations) and Factor, for gross errors, is the
// multiple of the portfolio's mean an erroneous observation takes.
type Alteration struct {
	Chance float64 `json:"chance"`
	Share  Range   `json:"share"`
	Factor Range   `json:"factor,omitzero"`
}

func (a *Alteration) check(name string, gross bool) error {
	if a == nil {
		return nil
	}
	if !(a.Chance >= 0 && a.Chance <= 1) {
		return fmt.Errorf("%s: chance %v outside [0, 1]", name, a.Chance)
	}
	if err := a.Share.check(name+" share", 0, 1, false); err != nil {
		return err
	}
	if gross {
		return a.Factor.check(name+" factor", 1, 1e6, false)
	}
	return nil
}

// draw returns the share (and factor) for one environment, zero when the
// alteration does not apply to it.
func (a *Alteration) draw(rng *rand.Rand) (share, factor float64) {
	if a == nil || rng.Float64() >= a.Chance {
		return 0, 0
	}
	return a.Share.draw(rng), a.Factor.draw(rng)
}

// Validate checks the configuration.
func (p *Prior) Validate() error {
	wrap := func(err error) error { return fmt.Errorf("prior %q: %w", p.Name, err) }
	if p.Name == "" || p.Version == "" {
		return fmt.Errorf("prior needs a name and a version")
	}
	switch p.Kind {
	case NormalNormal, GammaPoisson:
	case Blend:
		if len(p.Components) == 0 {
			return wrap(fmt.Errorf("blend prior lists no components"))
		}
		for i, c := range p.Components {
			if c == nil {
				return wrap(fmt.Errorf("component %d is empty", i))
			}
			if err := c.Validate(); err != nil {
				return wrap(fmt.Errorf("component %d: %w", i, err))
			}
		}
		return p.validateShared(wrap)
	case Managerial:
		if len(p.Families) == 0 {
			return wrap(fmt.Errorf("managerial prior lists no families"))
		}
		for _, f := range p.Families {
			if !slices.Contains(Families, f) {
				return wrap(fmt.Errorf("unknown family %q (want one of %v)", f, Families))
			}
		}
	default:
		return wrap(fmt.Errorf("unknown kind %q", p.Kind))
	}
	for _, c := range []struct {
		name   string
		r      Range
		lo, hi float64
		open   bool
	}{
		{"level", p.Level, 0, math.MaxFloat64, true},
		{"spread", p.Spread, 0, 10, false},
		{"cv", p.CV, 0, 10, p.Kind == Managerial},
		{"noise", p.Noise, 0, 10, false},
	} {
		if err := c.r.check(c.name, c.lo, c.hi, c.open); err != nil {
			return wrap(err)
		}
	}
	if p.Kind == GammaPoisson && p.Spread.Min <= 0 {
		return wrap(fmt.Errorf("gamma-poisson needs spread > 0"))
	}
	return p.validateShared(wrap)
}

// validateShared checks what every kind has: instances, observations,
// ratio and the alterations.
func (p *Prior) validateShared(wrap func(error) error) error {
	if err := p.Ratio.check("ratio", 0, 1, true); err != nil {
		return wrap(err)
	}
	if p.Instances.Min < 1 || p.Instances.Max < p.Instances.Min {
		return wrap(fmt.Errorf("instances range [%d, %d] invalid", p.Instances.Min, p.Instances.Max))
	}
	if p.Obs.Min < 1 || p.Obs.Max < p.Obs.Min {
		return wrap(fmt.Errorf("obs range [%d, %d] invalid", p.Obs.Min, p.Obs.Max))
	}
	for _, a := range []struct {
		name  string
		alt   *Alteration
		gross bool
	}{{"zeros", p.Zeros, false}, {"constants", p.Constants, false}, {"gross_errors", p.GrossErrors, true}} {
		if err := a.alt.check(a.name, a.gross); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// Load reads a prior from a JSON file and validates it.
func Load(path string) (*Prior, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Prior
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// Lookup returns the built-in prior of that name, or, when name is a path to
// a JSON file, the prior it holds.
func Lookup(name string) (*Prior, error) {
	for _, p := range Builtin() {
		if p.Name == name {
			return p, nil
		}
	}
	if _, err := os.Stat(name); err == nil {
		return Load(name)
	}
	return nil, fmt.Errorf("unknown prior %q (built-in: %v, or a JSON file)", name, Names())
}

// Names lists the built-in priors.
func Names() []string {
	var names []string
	for _, p := range Builtin() {
		names = append(names, p.Name)
	}
	return names
}

// Options override a prior's ranges for one environment.
type Options struct {
	// Instances fixes K (0: draw from the prior's range).
	Instances int
	// Obs fixes the range of n_k (zero value: the prior's).
	Obs IntRange
	// Ratio fixes the critical ratio (0: draw from the prior's range).
	Ratio float64
}

// Environment is one drawn portfolio with its truth.
type Environment struct {
	Prior *Prior
	Seed  uint64
	// Hyper holds the hyperparameters drawn for this environment (for
	// normal-normal: mu0, tau, sigma; for gamma-poisson: shape, rate).
	Hyper     map[string]float64
	Portfolio *data.Portfolio
	Truth     []dist.Distribution
}

// Generate draws one environment from seed.
func (p *Prior) Generate(seed uint64, o Options) (*Environment, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if o.Instances < 0 {
		return nil, fmt.Errorf("prior %q: %d instances", p.Name, o.Instances)
	}
	if o.Ratio != 0 {
		if err := data.CheckRatio(o.Ratio); err != nil {
			return nil, fmt.Errorf("prior %q: %w", p.Name, err)
		}
	}
	obs := p.Obs
	if o.Obs != (IntRange{}) {
		if o.Obs.Min < 1 || o.Obs.Max < o.Obs.Min {
			return nil, fmt.Errorf("prior %q: obs range [%d, %d] invalid", p.Name, o.Obs.Min, o.Obs.Max)
		}
		obs = o.Obs
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	k := o.Instances
	if k == 0 {
		k = p.Instances.Draw(rng)
	}
	ratio := o.Ratio
	if ratio == 0 {
		ratio = p.Ratio.draw(rng)
	}
	if p.Kind == Blend {
		i := rng.IntN(len(p.Components))
		env, err := p.Components[i].Generate(rng.Uint64(), Options{Instances: k, Obs: obs, Ratio: ratio})
		if err != nil {
			return nil, fmt.Errorf("prior %q: %w", p.Name, err)
		}
		env.Hyper["component"] = float64(i)
		p.alter(env, seed, rng)
		return env, nil
	}
	level, spread, cv, noise := p.Level.draw(rng), p.Spread.draw(rng), p.CV.draw(rng), p.Noise.draw(rng)
	env := &Environment{Prior: p, Seed: seed, Hyper: map[string]float64{
		"level": level, "spread": spread, "cv": cv, "noise": noise, "critical_ratio": ratio,
	}}
	var instance func(i int) (dist.Distribution, float64)
	switch p.Kind {
	case NormalNormal:
		mu0, tau, sigma := level, spread*level, cv*level
		env.Hyper["mu0"], env.Hyper["tau"], env.Hyper["sigma"] = mu0, tau, sigma
		theta := dist.Normal{Mu: mu0, Sigma: tau}
		instance = func(int) (dist.Distribution, float64) {
			if tau == 0 {
				return dist.Normal{Mu: mu0, Sigma: sigma}, mu0
			}
			m := theta.Rand(rng)
			return dist.Normal{Mu: m, Sigma: sigma}, m
		}
	case GammaPoisson:
		g := dist.GammaMeanCV(level, spread)
		env.Hyper["shape"], env.Hyper["rate"] = g.Shape, g.Rate
		instance = func(int) (dist.Distribution, float64) {
			l := math.Max(g.Rand(rng), 1e-12)
			return dist.Poisson{Lambda: l}, l
		}
	case Managerial:
		fam := p.Families[rng.IntN(len(p.Families))]
		env.Hyper["family_index"] = float64(slices.Index(Families, fam))
		means := productMeans(level, spread)
		mixWeight, mixGap := 0.3+0.4*rng.Float64(), 0.4+0.4*rng.Float64()
		env.Hyper["mix_weight"], env.Hyper["mix_gap"] = mixWeight, mixGap
		instance = func(int) (dist.Distribution, float64) {
			m := means(rng)
			return FamilyDist(fam, m, cv, mixWeight, mixGap), m
		}
	}
	pf := &data.Portfolio{
		Source: "prior " + p.Name, IDs: make([]string, k), Obs: make([][]float64, k), Ratios: make([]float64, k),
	}
	env.Truth = make([]dist.Distribution, k)
	flat := make([]float64, 0, k*(obs.Min+obs.Max)/2+1)
	for i := range k {
		d, mean := instance(i)
		n := obs.Draw(rng)
		start := len(flat)
		for range n {
			x := d.Rand(rng)
			if noise > 0 {
				x += noise * mean * rng.NormFloat64()
			}
			// Observations are demand (plus noise), censored at zero:
			// demand data are never negative; so are truths (below).
			flat = append(flat, math.Max(0, x))
		}
		pf.IDs[i] = strconv.Itoa(i + 1)
		pf.Obs[i] = flat[start:len(flat):len(flat)]
		pf.Ratios[i] = ratio
		// Demand is max(0, X): a normal's negative tail is an atom at
		// zero, which the oracle and the evaluator see as the data do.
		env.Truth[i] = dist.NonNegative(d)
	}
	env.Portfolio = pf
	p.alter(env, seed, rng)
	return env, nil
}

// alter applies the prior's alterations to env, drawing whether and how
// much from rng; Alter's own draws come from a stream of seed.
func (p *Prior) alter(env *Environment, seed uint64, rng *rand.Rand) {
	if p.Zeros == nil && p.Constants == nil && p.GrossErrors == nil {
		return
	}
	zeros, _ := p.Zeros.draw(rng)
	constants, _ := p.Constants.draw(rng)
	rate, factor := p.GrossErrors.draw(rng)
	Alter(env, rand.New(rand.NewPCG(seed, 0x5717e)), zeros, constants, rate, factor)
}

// Alter changes a drawn environment: each product is, with probability
// zeroShare, one that never sells, else with probability constantShare
// one that sells exactly its (rounded) mean every day; then a share
// grossRate of all observations (at least one when grossRate > 0) is set
// to grossFactor times the portfolio's mean observation, gross errors in
// the data with the truths kept. Hyper records zero_share (Bayes-optimal
// for zero-inflated counts knows it), constant_share, gross_rate and
// gross_factor.
func Alter(env *Environment, rng *rand.Rand, zeroShare, constantShare, grossRate, grossFactor float64) {
	p := env.Portfolio
	if zeroShare > 0 {
		env.Hyper["zero_share"] = zeroShare
	}
	if constantShare > 0 {
		env.Hyper["constant_share"] = constantShare
	}
	for i := range p.Obs {
		switch u := rng.Float64(); {
		case u < zeroShare:
			env.Truth[i] = pointMass(0)
			p.Obs[i] = make([]float64, len(p.Obs[i]))
		case u < zeroShare+constantShare:
			m := max(0, math.Round(env.Truth[i].Mean()))
			env.Truth[i] = pointMass(m)
			for j := range p.Obs[i] {
				p.Obs[i][j] = m
			}
		}
	}
	if grossRate <= 0 {
		return
	}
	env.Hyper["gross_rate"], env.Hyper["gross_factor"] = grossRate, grossFactor
	mean, total := 0.0, 0
	for _, o := range p.Obs {
		for _, x := range o {
			mean += x
			total++
		}
	}
	mean /= float64(total)
	for range max(1, int(math.Floor(float64(total)*grossRate+1e-9))) {
		i := rng.IntN(p.Len())
		p.Obs[i][rng.IntN(len(p.Obs[i]))] = grossFactor * mean
	}
}

func pointMass(v float64) dist.Distribution {
	d, err := dist.NewDiscrete([]float64{v}, []float64{1})
	if err != nil {
		panic(err)
	}
	return d
}

// productMeans returns a sampler of product mean demands: lognormal with mean
// level and coefficient of variation spread.
func productMeans(level, spread float64) func(*rand.Rand) float64 {
	if spread == 0 {
		return func(*rand.Rand) float64 { return level }
	}
	ln := dist.LogNormalMeanCV(level, spread)
	return func(rng *rand.Rand) float64 { return ln.Rand(rng) }
}

// FamilyDist returns the demand distribution of a managerial family with
// mean m and coefficient of variation cv (mixWeight and mixGap shape the
// two-mode mixture), as environments draw it.
func FamilyDist(fam string, m, cv, mixWeight, mixGap float64) dist.Distribution {
	switch fam {
	case "normal":
		return dist.Normal{Mu: m, Sigma: cv * m}
	case "lognormal":
		return dist.LogNormalMeanCV(m, cv)
	case "gamma":
		return dist.GammaMeanCV(m, cv)
	case "poisson":
		return dist.Poisson{Lambda: m}
	case "negbinomial":
		nb, err := dist.NegBinomialMeanVar(m, m+cv*cv*m*m)
		if err != nil {
			return dist.Poisson{Lambda: m}
		}
		return nb
	case "mixture":
		// Two gamma modes at m(1-gap) and above, weighted to keep mean m.
		lo := m * (1 - mixGap)
		hi := m * (1 + mixWeight*mixGap/(1-mixWeight))
		mix, _ := dist.NewMixture([]float64{mixWeight, 1 - mixWeight},
			dist.GammaMeanCV(lo, cv/2), dist.GammaMeanCV(hi, cv/2))
		return mix
	}
	panic("prior: unvalidated family " + fam)
}

// TruthFile returns the environment's truth in file form.
func (e *Environment) TruthFile(problemName string, prov provenance.Record) *data.TruthFile {
	t := &data.TruthFile{Provenance: prov, Problem: problemName, Prior: e.Prior.Name, PriorVersion: e.Prior.Version, Hyper: e.Hyper}
	for i, d := range e.Truth {
		t.Instances = append(t.Instances, data.TruthInstance{ID: e.Portfolio.IDs[i], Ratio: e.Portfolio.Ratios[i], Dist: d.Spec()})
	}
	return t
}
