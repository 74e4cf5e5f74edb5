package baseline

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"

	"github.com/ptft-lab/ptft/workbench/data"
)

// NegBinomialEB is parametric empirical Bayes for over-dispersed counts:
// product k sells negative binomial counts of mean mu_k and size R,
// shared by the products (variance mu + mu^2/R: the day-to-day gamma
// spread of a Poisson rate), and log mu_k ~ N(M, S^2). eb-gamma-poisson
// is the limit R -> infinity with a gamma instead of a log-normal prior.
// The three hyperparameters maximise the marginal likelihood of every
// observation, the integral over log mu on a grid of negBinomialGrid
// points spanning the instances' means; each instance orders the
// rho-quantile of its posterior-predictive mixture of negative binomials.
// Where the likeliest spread of log means exceeds the grid's range, a
// flat prior (a share of never-sellers, or groups of far apart sales
// levels, which no log-normal reaches), it returns an error rather than
// orders.
type NegBinomialEB struct{}

func (NegBinomialEB) Name() string { return "eb-negbinomial" }

// negBinomialGrid is the number of log-mean points of the prior's grid.
const negBinomialGrid = 96

// nbNegligible is the log ratio beyond which a term of the likelihood's
// sums is dropped: e^-40 is below float64's relative precision.
const nbNegligible = 40

// NegBinomialHyper is a fitted NegBinomialEB prior.
type NegBinomialHyper struct {
	M, S, R float64
}

// nbInstance is the part of an instance the fit and decision need: its
// total, length, and sum over days of log Gamma(x + R) (for the current R).
type nbInstance struct {
	s, n float64
	obs  []float64
}

// nbFit holds a portfolio's grid and instances, and for the likelihood
// the distinct counts and (total, length) patterns with their
// multiplicities.
type nbFit struct {
	logMu    []float64
	inst     []nbInstance
	counts   []struct{ x, times float64 }
	patterns []totalPattern
}

func newNBFit(p *data.Portfolio) (*nbFit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	patterns, err := totalPatterns(p, "eb-negbinomial")
	if err != nil {
		return nil, err
	}
	f := &nbFit{patterns: patterns}
	lo, hi := math.Inf(1), math.Inf(-1)
	anySale := false
	counts := map[float64]float64{}
	for _, o := range p.Obs {
		s := floats.Sum(o)
		anySale = anySale || s > 0
		n := float64(len(o))
		f.inst = append(f.inst, nbInstance{s: s, n: n, obs: o})
		m := math.Log((s + 0.5) / n)
		lo, hi = min(lo, m), max(hi, m)
		for _, x := range o {
			counts[x]++
		}
	}
	if !anySale {
		return nil, fmt.Errorf("%s: eb-negbinomial: every count is zero", p.Source)
	}
	// A fixed order: the sums must not depend on map order.
	for _, x := range slices.Sorted(maps.Keys(counts)) {
		f.counts = append(f.counts, struct{ x, times float64 }{x, counts[x]})
	}
	// The grid reaches well beyond the instances' means: a product that
	// never sold in n days may well have a mean far below 1/n.
	lo, hi = lo-3, hi+1
	f.logMu = make([]float64, negBinomialGrid)
	for i := range f.logMu {
		f.logMu[i] = lo + (hi-lo)*float64(i)/float64(negBinomialGrid-1)
	}
	return f, nil
}

// logPriorWeights are the log weights of the discretised N(M, S^2) on
// the grid.
func (f *nbFit) logPriorWeights(h NegBinomialHyper, w []float64) {
	for i, t := range f.logMu {
		z := (t - h.M) / h.S
		w[i] = -z * z / 2
	}
	top := slices.Max(w)
	sum := 0.0
	for _, x := range w {
		sum += math.Exp(x - top)
	}
	norm := top + math.Log(sum)
	for i := range w {
		w[i] -= norm
	}
}

// nbTerms are, at each grid point, log mu - log(r + mu) and
// log r - log(r + mu): the kernel's factors for one size r.
type nbTerms struct{ a, b []float64 }

func (f *nbFit) terms(r float64) nbTerms {
	t := nbTerms{make([]float64, len(f.logMu)), make([]float64, len(f.logMu))}
	lr := math.Log(r)
	for i, lm := range f.logMu {
		lrm := lr + math.Log1p(math.Exp(lm-lr)) // log(r + mu)
		t.a[i], t.b[i] = lm-lrm, lr-lrm
	}
	return t
}

// logKernel is log P(total s of n days | mu) less the terms free of mu,
// s (log mu - log(r+mu)) + n r (log r - log(r+mu)), at each grid point.
func (t nbTerms) logKernel(s, n, r float64, out []float64) {
	nr := n * r
	for i := range out {
		out[i] = s*t.a[i] + nr*t.b[i]
	}
}

// logLik is the marginal log-likelihood of the portfolio, less the
// -log x! of every count.
func (f *nbFit) logLik(h NegBinomialHyper) float64 {
	prior := make([]float64, len(f.logMu))
	f.logPriorWeights(h, prior)
	t := f.terms(h.R)
	kern := make([]float64, len(f.logMu))
	lgr, _ := math.Lgamma(h.R)
	ll := 0.0
	for _, c := range f.counts {
		l, _ := math.Lgamma(c.x + h.R)
		ll += c.times * (l - lgr)
	}
	for _, pt := range f.patterns {
		t.logKernel(pt.s, pt.n, h.R, kern)
		top := math.Inf(-1)
		for i := range kern {
			kern[i] += prior[i]
			top = max(top, kern[i])
		}
		ll += pt.count * logSumExp(kern, top)
	}
	return ll
}

// logSumExp is log sum_i exp(v_i), top the largest v_i. Terms below
// e^-nbNegligible of the largest change no float64 sum; skipping their
// exponentials, most of the grid for an informative instance, halves
// the grid fits' time.
func logSumExp(v []float64, top float64) float64 {
	sum := 0.0
	for _, x := range v {
		if d := x - top; d > -nbNegligible {
			sum += math.Exp(d)
		}
	}
	return top + math.Log(sum)
}

// Estimate fits the prior of p.
func (NegBinomialEB) Estimate(p *data.Portfolio) (NegBinomialHyper, error) {
	f, err := newNBFit(p)
	if err != nil {
		return NegBinomialHyper{}, err
	}
	return f.estimate(p.Source)
}

// OverdispersionLogRatio is the log-likelihood ratio of p's counts under
// the fitted eb-negbinomial prior against the likeliest with Poisson
// days (size R -> infinity, log-normal means as before): how much a
// day-to-day spread beyond Poisson, shared by the products, explains.
// The size lies on its boundary under the Poisson null, so twice the
// ratio is an equal mixture of 0 and chi-squared(1) there (2.71 is its
// 1% level for the ratio itself).
func OverdispersionLogRatio(p *data.Portfolio) (float64, error) {
	f, err := newNBFit(p)
	if err != nil {
		return 0, err
	}
	h, err := f.estimate(p.Source)
	if err != nil {
		return 0, err
	}
	poisson, err := f.fit(p.Source, nbPoissonSize)
	if err != nil {
		return 0, err
	}
	return max(0, f.logLik(h)-f.logLik(poisson)), nil
}

// PoissonDispersion is the classical dispersion test of Poisson days:
// over p's instances of two or more observations and a positive total,
// the sum of (x - mean)^2 / mean over their days, chi2, and its degrees
// of freedom, the sum of n_k - 1; its upper-tail probability under the
// chi-squared of dof degrees of freedom is its p-value. Given each
// product's total, Poisson days split it multinomially whatever the
// product's mean, so the test holds whatever the prior of the means:
// OverdispersionLogRatio assumes them log-normal, and a gamma prior's
// misfit can pass for day-to-day spread there.
func PoissonDispersion(p *data.Portfolio) (chi2, dof float64, err error) {
	if err := p.Validate(); err != nil {
		return 0, 0, err
	}
	for k, o := range p.Obs {
		mean := 0.0
		for j, x := range o {
			if !IsCount(x) {
				return 0, 0, fmt.Errorf("%s: instance %s, observation %d: %v is not a count", p.Source, p.IDs[k], j+1, x)
			}
			mean += x
		}
		mean /= float64(len(o))
		if len(o) < 2 || mean == 0 {
			continue
		}
		for _, x := range o {
			chi2 += (x - mean) * (x - mean) / mean
		}
		dof += float64(len(o) - 1)
	}
	return chi2, dof, nil
}

// LogNormalMeansLogRatio is the log-likelihood ratio of p's counts under
// Poisson days around log-normal means (eb-negbinomial's Poisson limit)
// against Poisson days around gamma means (eb-gamma-poisson's prior, its
// marginal-likelihood fit): positive where the products' means look
// log-normal rather than gamma. Each model has two parameters and
// neither nests the other.
func LogNormalMeansLogRatio(p *data.Portfolio) (float64, error) {
	f, err := newNBFit(p)
	if err != nil {
		return 0, err
	}
	poisson, err := f.fit(p.Source, nbPoissonSize)
	if err != nil {
		return 0, err
	}
	g, err := estimateGammaPoisson(p, MarginalLikelihood)
	if err != nil {
		return 0, err
	}
	// Both log-likelihoods leave out the -log x! of every count; the
	// gamma one, of the totals, adds the multinomial split of each total
	// over its days, s! / prod x! n^-s, less the same -log x!.
	lr := f.logLik(poisson)
	for _, in := range f.inst {
		s, n := in.s, in.n
		if math.IsInf(g.Shape, 1) {
			lr -= s*math.Log(n*g.Mean) - n*g.Mean
		} else {
			lr -= negBinomialTotalLogLik(s, n, g.Shape, g.Rate)
		}
		lr += s * math.Log(n)
	}
	return lr, nil
}

// nbPoissonSize is the size that stands for R -> infinity: the negative
// binomial's variance then exceeds the Poisson's by mu^2/1e8.
const nbPoissonSize = 1e8

func (f *nbFit) estimate(source string) (NegBinomialHyper, error) {
	return f.fit(source, 0)
}

// fit maximises the marginal likelihood over M, S and, if size is 0, R;
// else R is size.
func (f *nbFit) fit(source string, size float64) (NegBinomialHyper, error) {
	// Starts from the moments: the log means' spread, and the size from
	// the pooled within-instance variance's excess over the mean.
	logm := make([]float64, len(f.inst))
	within, mean, dof := 0.0, 0.0, 0.0
	for k, in := range f.inst {
		logm[k] = math.Log((in.s + 0.5) / in.n)
		mean += in.s
		if in.n > 1 {
			v := stat.Variance(in.obs, nil)
			within += v * (in.n - 1)
			dof += in.n - 1
		}
	}
	total := 0.0
	for _, in := range f.inst {
		total += in.n
	}
	mean /= total
	m0, s0 := stat.MeanStdDev(logm, nil)
	r0 := 10.0
	if dof > 0 && within/dof > mean {
		r0 = min(1e4, max(0.05, mean*mean/(within/dof-mean)))
	}
	hyper := func(x []float64) NegBinomialHyper {
		if size > 0 {
			return NegBinomialHyper{M: x[0], S: math.Exp(x[1]), R: size}
		}
		return NegBinomialHyper{M: x[0], S: math.Exp(x[1]), R: math.Exp(x[2])}
	}
	nll := func(x []float64) float64 {
		h := hyper(x)
		ll := f.logLik(h)
		if math.IsNaN(ll) || math.IsInf(ll, 0) {
			return math.Inf(1)
		}
		return -ll
	}
	x0 := []float64{m0, math.Log(max(s0, 0.05)), math.Log(r0)}
	if size > 0 {
		x0 = x0[:2]
	}
	res, err := optimize.Minimize(optimize.Problem{Func: nll}, x0, &optimize.Settings{FuncEvaluations: 400}, &optimize.NelderMead{})
	if res == nil {
		return NegBinomialHyper{}, fmt.Errorf("%s: eb-negbinomial marginal likelihood: %w", source, err)
	}
	h := hyper(res.X)
	if math.IsInf(res.F, 0) || !(h.S > 0 && h.R > 0) || math.IsInf(h.S, 0) || math.IsInf(h.R, 0) {
		return NegBinomialHyper{}, fmt.Errorf("%s: eb-negbinomial: the marginal likelihood has no finite maximum", source)
	}
	// A spread of log means wider than the grid's whole range is no prior:
	// the likelihood prefers a flat one, as on intermittent counts, whose
	// point mass of never-sellers no log-normal reaches (there the
	// spread diverged and the orders of the suite's intermittent family
	// came out at 1,525% regret).
	if width := f.logMu[len(f.logMu)-1] - f.logMu[0]; h.S > width {
		return NegBinomialHyper{}, fmt.Errorf("%s: eb-negbinomial: the counts do not fit a log-normal prior of means (the fitted spread of log means, %.3g, exceeds their range, %.3g; products that never sell, or groups of far apart sales levels?)", source, h.S, width)
	}
	return h, nil
}

// Decide fits p and orders each instance's posterior-predictive quantile.
func (e NegBinomialEB) Decide(p *data.Portfolio) ([]float64, error) {
	f, err := newNBFit(p)
	if err != nil {
		return nil, err
	}
	h, err := f.estimate(p.Source)
	if err != nil {
		return nil, err
	}
	prior := make([]float64, len(f.logMu))
	f.logPriorWeights(h, prior)
	// Instances of one total, length and ratio order alike: decide each
	// such pattern once.
	type key struct{ s, n, rho float64 }
	first := map[key]int{}
	var uniq []int
	for k, in := range f.inst {
		kk := key{in.s, in.n, p.Ratios[k]}
		if _, ok := first[kk]; !ok {
			first[kk] = len(uniq)
			uniq = append(uniq, k)
		}
	}
	qu := make([]float64, len(uniq))
	t := f.terms(h.R)
	parallelFor(len(uniq), func(lo, hi int) {
		kern := make([]float64, len(f.logMu))
		for u := lo; u < hi; u++ {
			k := uniq[u]
			in := f.inst[k]
			t.logKernel(in.s, in.n, h.R, kern)
			for i := range kern {
				kern[i] += prior[i]
			}
			qu[u] = nbMixtureQuantile(f.logMu, kern, h.R, p.Ratios[k])
		}
	})
	q := make([]float64, p.Len())
	for k, in := range f.inst {
		q[k] = qu[first[key{in.s, in.n, p.Ratios[k]}]]
	}
	return q, nil
}

// nbMixtureQuantile is the smallest count x whose cumulative probability
// under the mixture of negative binomials (size r, means e^logMu[i],
// log weights logW[i], unnormalised) reaches rho: a bisection on the
// mixture's CDF, sum_i w_i I_{r/(r+mu_i)}(r, x+1), which stays exact
// where a recursion from P(0) = (r/(r+mu))^r would underflow.
func nbMixtureQuantile(logMu, logW []float64, r, rho float64) float64 {
	top := slices.Max(logW)
	var w, p []float64
	sum, hi := 0.0, 0.0
	for i, l := range logW {
		wi := math.Exp(l - top)
		if wi < 1e-12 {
			continue
		}
		mu := math.Exp(logMu[i])
		w, p = append(w, wi), append(p, r/(r+mu))
		sum += wi
		hi = max(hi, mu+12*math.Sqrt(mu+mu*mu/r)+10)
	}
	cdf := func(x float64) float64 {
		c := 0.0
		for i := range w {
			c += w[i] * mathext.RegIncBeta(r, x+1, p[i])
		}
		return c / sum
	}
	target := rho - probTol
	lo, up := -1.0, math.Ceil(hi)
	for cdf(up) < target {
		up *= 2
	}
	for up-lo > 1 { // cdf(lo) < target <= cdf(up)
		mid := math.Floor((lo + up) / 2)
		if cdf(mid) >= target {
			up = mid
		} else {
			lo = mid
		}
	}
	return up
}
