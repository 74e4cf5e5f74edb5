package baseline

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// Family is the parametric model an empirical-Bayes or Bayes policy assumes.
type Family int

const (
	// NormalFamily: theta_k ~ N(mu0, tau^2), x ~ N(theta_k, sigma^2).
	NormalFamily Family = iota
	// GammaPoissonFamily: lambda_k ~ Gamma(shape, rate), x ~ Poisson(lambda_k).
	GammaPoissonFamily
)

// Estimation selects how empirical Bayes estimates hyperparameters.
type Estimation int

const (
	// Moments matches the across-instance moments.
	Moments Estimation = iota
	// MarginalLikelihood maximises the marginal likelihood of all
	// instances' data, starting from the moment estimates.
	MarginalLikelihood
)

// Hyper holds the hyperparameters of a Family: Mu0, Tau, Sigma for
// NormalFamily; Shape, Rate for GammaPoissonFamily (Shape = +Inf means all
// instances share the mean Shape/Rate = Mean).
type Hyper struct {
	Family          Family
	Mu0, Tau, Sigma float64
	Shape, Rate     float64
	Mean            float64 // gamma-Poisson, when Shape is +Inf
}

// Predictive returns the posterior-predictive distribution of the next
// demand of an instance with observations obs.
func (h Hyper) Predictive(obs []float64) dist.Distribution {
	n := float64(len(obs))
	sum := 0.0
	for _, x := range obs {
		sum += x
	}
	if h.Family == GammaPoissonFamily {
		if math.IsInf(h.Shape, 1) {
			return dist.Poisson{Lambda: h.Mean}
		}
		// Posterior Gamma(shape+S, rate+n): predictive negative binomial.
		return dist.NegBinomial{R: h.Shape + sum, P: (h.Rate + n) / (h.Rate + n + 1)}
	}
	if h.Tau == 0 {
		return dist.Normal{Mu: h.Mu0, Sigma: h.Sigma}
	}
	t2, s2 := h.Tau*h.Tau, h.Sigma*h.Sigma
	prec := 1/t2 + n/s2
	mean := (h.Mu0/t2 + sum/s2) / prec
	return dist.Normal{Mu: mean, Sigma: math.Sqrt(s2 + 1/prec)}
}

// decide returns each instance's posterior-predictive rho-quantile, floored
// at zero (orders are non-negative).
func (h Hyper) decide(p *data.Portfolio) []float64 {
	q := make([]float64, p.Len())
	parallelFor(p.Len(), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			q[k] = max(0, h.Predictive(p.Obs[k]).Quantile(p.Ratios[k]))
		}
	})
	return q
}

// Bayes is the Bayes-optimal policy given the true hyperparameters: only
// meaningful where the generating prior is known. With Log it is the
// normal-normal Bayes policy on log demand, exact for lognormal demand
// around lognormal product means (the predictive of log demand is
// normal, and the quantile of exp(Y) is exp of Y's).
type Bayes struct {
	Hyper Hyper
	Log   bool
	// Zero is, for gamma-Poisson, the share of products that never sell
	// (lambda = 0): intermittent demand, zero-inflated counts.
	Zero float64
	// Constant, for normal-normal, is the share of products that sell
	// exactly a whole number every day. Normal demand is continuous, so
	// an instance whose observations all equal one whole number is such
	// a product with posterior probability one, and its order is that
	// number.
	Constant float64
	// GrossAbove, for normal-normal, when positive: observations above it
	// are gross errors (prior.Alter's, set to a multiple of the
	// portfolio's mean), which BayesFromPrior places so far above the
	// demand (GrossAbove at least 20 prior-predictive standard deviations
	// above the mean, the gross value twice as far) that an observation
	// beyond it is a gross error with posterior probability 1 - O(e^-200);
	// the posterior is the normal one given the other observations.
	GrossAbove float64
}

// grossSeparation is how many prior-predictive standard deviations above
// the prior mean gross errors must lie for Bayes to tell them from demand
// exactly (see Bayes.GrossAbove).
const grossSeparation = 40

// BayesFromPrior builds the Bayes policy from an environment's drawn
// hyperparameters (prior kinds normal-normal and gamma-poisson).
func BayesFromPrior(kind string, hyper map[string]float64) (Bayes, error) {
	get := func(names ...string) ([]float64, error) {
		var v []float64
		for _, n := range names {
			x, ok := hyper[n]
			if !ok {
				return nil, fmt.Errorf("bayes: hyperparameter %q missing", n)
			}
			v = append(v, x)
		}
		return v, nil
	}
	if kind != "normal-normal" && (hyper["constant_share"] > 0 || hyper["gross_rate"] > 0) {
		return Bayes{}, fmt.Errorf("bayes: no Bayes-optimal policy for %s environments with constant products or gross errors", kind)
	}
	switch kind {
	case "normal-normal":
		v, err := get("mu0", "tau", "sigma")
		if err != nil {
			return Bayes{}, err
		}
		b := Bayes{Hyper: Hyper{Family: NormalFamily, Mu0: v[0], Tau: v[1], Sigma: v[2]}, Constant: hyper["constant_share"]}
		if hyper["gross_rate"] > 0 {
			// The gross value is gross_factor times the portfolio's mean
			// observation, which is mu0 up to sampling error.
			sd := math.Hypot(v[1], v[2])
			gross := hyper["gross_factor"] * v[0]
			if !(gross-v[0] >= grossSeparation*sd) {
				return Bayes{}, fmt.Errorf("bayes: gross errors %.3g prior-predictive standard deviations above the mean are not told from demand exactly (Bayes-optimal needs %d)",
					(gross-v[0])/sd, grossSeparation)
			}
			b.GrossAbove = (v[0] + gross) / 2
		}
		return b, nil
	case "gamma-poisson":
		v, err := get("shape", "rate")
		if err != nil {
			return Bayes{}, err
		}
		// An optional share of products that never sell (zero inflation).
		return Bayes{Hyper: Hyper{Family: GammaPoissonFamily, Shape: v[0], Rate: v[1]}, Zero: hyper["zero_share"]}, nil
	case "managerial":
		// Lognormal demand (mean m_k, cv) around lognormal means m_k (mean
		// level, cv spread), without observation noise: log demand is
		// N(theta_k, log(1+cv^2)) with theta_k normal.
		v, err := get("family_index", "level", "spread", "cv", "noise")
		if err != nil {
			return Bayes{}, err
		}
		if int(v[0]) != lognormalFamilyIndex || v[4] != 0 {
			return Bayes{}, fmt.Errorf("bayes: no Bayes-optimal policy for this managerial environment (only lognormal without noise)")
		}
		sb2, sw2 := math.Log1p(v[2]*v[2]), math.Log1p(v[3]*v[3])
		return Bayes{Log: true, Hyper: Hyper{Family: NormalFamily, Mu0: math.Log(v[1]) - sb2/2 - sw2/2, Tau: math.Sqrt(sb2), Sigma: math.Sqrt(sw2)}}, nil
	}
	return Bayes{}, fmt.Errorf("bayes: no Bayes-optimal policy for prior kind %q", kind)
}

func (Bayes) Name() string { return "bayes" }

func (b Bayes) Decide(p *data.Portfolio) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if b.Zero > 0 {
		return b.decideZeroInflated(p), nil
	}
	if b.Constant > 0 || b.GrossAbove > 0 {
		return b.decideAltered(p), nil
	}
	if !b.Log {
		q := make([]float64, p.Len())
		parallelFor(p.Len(), func(lo, hi int) {
			for k := lo; k < hi; k++ {
				q[k] = b.normalQuantile(p.Obs[k], p.Ratios[k])
			}
		})
		return q, nil
	}
	q := make([]float64, p.Len())
	for k, o := range p.Obs {
		y := make([]float64, len(o))
		for i, x := range o {
			if !(x > 0) {
				return nil, fmt.Errorf("%s: instance %q: bayes on log demand needs positive observations, got %v", p.Source, p.IDs[k], x)
			}
			y[i] = math.Log(x)
		}
		q[k] = math.Exp(b.Hyper.Predictive(y).Quantile(p.Ratios[k]))
	}
	return q, nil
}

// decideAltered is the normal-normal Bayes decision with constant
// products and gross errors (Bayes.Constant, Bayes.GrossAbove): gross
// errors are set aside, an instance whose remaining observations all equal
// one whole number orders it, and any other orders its normal
// posterior-predictive quantile given the remaining observations (the
// prior predictive if none remain). Not exact in one corner: an instance
// of zeros only is taken for a constant product of zero, though a normal
// product censored to zero every day could show the same; both need a
// product mean within about one within-product deviation of zero, which
// the suite's families with constant products leave out.
func (b Bayes) decideAltered(p *data.Portfolio) []float64 {
	q := make([]float64, p.Len())
	for k, o := range p.Obs {
		clean := o
		if b.GrossAbove > 0 {
			clean = make([]float64, 0, len(o))
			for _, x := range o {
				if x <= b.GrossAbove {
					clean = append(clean, x)
				}
			}
		}
		if b.Constant > 0 && len(clean) > 0 && clean[0] == math.Round(clean[0]) && allEqual(clean) {
			q[k] = clean[0]
			continue
		}
		q[k] = b.normalQuantile(clean, p.Ratios[k])
	}
	return q
}

// normalQuantile is the normal-normal Bayes order of an instance with
// observations obs: the rho-quantile of max(0, next demand). Demand and
// its observations are censored at zero (prior.Prior.Generate), so an
// observation of exactly zero says only that the demand was at most zero;
// without one the likelihood is the normal density and the posterior
// predictive the conjugate normal, with one it is censoredQuantile's.
func (b Bayes) normalQuantile(obs []float64, rho float64) float64 {
	if b.Hyper.Tau > 0 && slices.Contains(obs, 0) {
		return censoredQuantile(b.Hyper, obs, rho)
	}
	return max(0, b.Hyper.Predictive(obs).Quantile(rho))
}

// censoredQuantile is the rho-quantile of max(0, X), X ~ N(theta, sigma^2),
// under the posterior of theta ~ N(mu0, tau^2) given observations of
// max(0, X) some of which are zero (censoredPosterior's).
func censoredQuantile(h Hyper, obs []float64, rho float64) float64 {
	theta, w, _ := censoredPosterior(h, obs)
	sigma := h.Sigma
	cdf := func(q float64) float64 {
		c := 0.0
		for i, t := range theta {
			c += w[i] * distuv.UnitNormal.CDF((q-t)/sigma)
		}
		return c
	}
	if cdf(0) >= rho-probTol {
		return 0
	}
	return bisectQuantile(cdf, rho, 0, theta[len(theta)-1]+10*sigma, 1e-12)
}

// bisectQuantile narrows [lo, hi], cdf(lo) < rho <= cdf(hi), by bisection
// until it is narrower than rel max(1, |lo|), and returns its upper end:
// the rho-quantile of a continuous cdf.
func bisectQuantile(cdf func(float64) float64, rho, lo, hi, rel float64) float64 {
	for range 200 {
		if hi-lo <= rel*max(1, math.Abs(lo)) {
			break
		}
		mid := (lo + hi) / 2
		if cdf(mid) >= rho {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// censoredPosterior returns nodes theta and normalised weights w of the
// posterior of theta ~ N(mu0, tau^2) given observations of max(0, X),
// X ~ N(theta, sigma^2), by Simpson's rule on theta, and the log of the
// observations' marginal likelihood (density of the positive ones times
// the probability of the zeros). The log posterior is concave, with
// curvature between 1/tau^2 + p/sigma^2 and 1/tau^2 + n/sigma^2 (p
// positive observations of n: a censored one adds between 0 and
// 1/sigma^2), so 14 standard deviations of the flatter bound either side
// of the mode hold all but e^-98 of it, and steps of an eighth of the
// steeper one resolve it. Only nodes that carry weight are returned.
func censoredPosterior(h Hyper, obs []float64) (theta, w []float64, logMarginal float64) {
	c := newCensoredPattern(h, obs)
	tau, sigma, pos := h.Tau, h.Sigma, c.pos
	logPost, slope := c.logPost, c.slope
	wide := 1 / math.Sqrt(1/(tau*tau)+float64(pos)/(sigma*sigma))
	narrow := 1 / math.Sqrt(1/(tau*tau)+float64(len(obs))/(sigma*sigma))
	// The mode: slope is decreasing, positive far below and negative far
	// above. A millionth of a deviation places the grid as well as exactly.
	lo, hi := c.modeBracket()
	for i := 0; i < 200 && hi-lo > 1e-6*narrow; i++ {
		mid := (lo + hi) / 2
		if slope(mid) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	mode := (lo + hi) / 2
	steps := min(200000, 2*int(math.Ceil(14*wide/(narrow/8))))
	step := 28 * wide / float64(steps)
	top := logPost(mode)
	// The grid is walked out from the mode (node steps/2) each way to the
	// first node below e^-50 of the mode's density: the log posterior,
	// concave, only falls beyond it, and all the nodes beyond add less
	// than the 1e-17 of the total below which weights are dropped anyway.
	at := func(i int) float64 { return mode - 14*wide + float64(i)*step }
	var below, above []float64 // log densities relative to the mode's, outward
	for i := steps/2 - 1; i >= 0; i-- {
		l := logPost(at(i)) - top
		if l < -50 {
			break
		}
		below = append(below, l)
	}
	for i := steps / 2; i <= steps; i++ {
		l := logPost(at(i)) - top
		if l < -50 && i > steps/2 {
			break
		}
		above = append(above, l)
	}
	first := steps/2 - len(below)
	theta = make([]float64, 0, len(below)+len(above))
	w = make([]float64, 0, len(below)+len(above))
	total := 0.0
	for i := first; i < steps/2+len(above); i++ {
		l := 0.0
		if i < steps/2 {
			l = below[steps/2-1-i]
		} else {
			l = above[i-steps/2]
		}
		simpson := 2.0
		switch {
		case i == 0 || i == steps:
			simpson = 1
		case i%2 == 1:
			simpson = 4
		}
		wi := simpson * math.Exp(l)
		theta, w = append(theta, at(i)), append(w, wi)
		total += wi
	}
	kept := 0
	for i := range w {
		if w[i] > 1e-17*total {
			theta[kept], w[kept] = theta[i], w[i]/total
			kept++
		}
	}
	logMarginal = top + math.Log(total*step/3) + c.logScale()
	return theta[:kept], w[:kept], logMarginal
}

// censoredPattern is one instance's observations of max(0, X), X ~
// N(theta, sigma^2), theta ~ N(mu0, tau^2), counted once for the
// posterior's grid and for the marginal's quadrature.
type censoredPattern struct {
	h          Hyper
	obs        []float64
	zeros, pos int
	sum        float64 // of the positive observations
}

func newCensoredPattern(h Hyper, obs []float64) censoredPattern {
	c := censoredPattern{h: h, obs: obs}
	for _, x := range obs {
		if x == 0 {
			c.zeros++
		} else {
			c.pos++
			c.sum += x
		}
	}
	return c
}

// logPost is the log of the posterior's unnormalised density of theta,
// without the constants that logScale adds back.
func (c censoredPattern) logPost(t float64) float64 {
	mu0, tau, sigma := c.h.Mu0, c.h.Tau, c.h.Sigma
	l := -sq((t-mu0)/tau) / 2
	for _, x := range c.obs {
		if x != 0 {
			l -= sq((x-t)/sigma) / 2
		}
	}
	return l + float64(c.zeros)*logNormalTail(t/sigma)
}

// slope is logPost's derivative, decreasing in t.
func (c censoredPattern) slope(t float64) float64 {
	mu0, tau, sigma := c.h.Mu0, c.h.Tau, c.h.Sigma
	return (mu0-t)/(tau*tau) + (c.sum-float64(c.pos)*t)/(sigma*sigma) - float64(c.zeros)*millsInverse(t/sigma)/sigma
}

// modeBracket brackets the posterior's mode, where slope changes sign:
// far below both the prior mean and zero, far above both it and the
// largest observation.
func (c censoredPattern) modeBracket() (lo, hi float64) {
	mu0, tau, sigma := c.h.Mu0, c.h.Tau, c.h.Sigma
	return min(mu0, 0) - 60*(tau+sigma), max(mu0, slices.Max(c.obs)) + 60*(tau+sigma)
}

// logScale is the log of the normal densities' constants that logPost
// leaves out: the integral of exp(logPost) plus logScale is the log
// marginal likelihood.
func (c censoredPattern) logScale() float64 {
	return -math.Log(c.h.Tau) - float64(c.pos)*math.Log(c.h.Sigma) - float64(1+c.pos)*halfLog2Pi
}

// censoredLogMarginal is censoredPosterior's log marginal likelihood by
// Gauss-Hermite quadrature about the posterior's mode, scaled by its
// curvature there (Laplace's approximation, corrected): the marginal
// fit of eb-censored evaluates it for every pattern of observations
// with a zero several hundred times, where censoredPosterior's Simpson
// grid of a few hundred nodes cost most of a fit. With a positive
// observation the log posterior is concave and close enough to a
// parabola that hermiteNodes nodes agree with the grid to 1e-9 relative
// (TestCensoredLogMarginalAgainstSimpson); with zeros alone it can be
// the prior cut off by a wall at zero, which a few nodes about the mode
// miss, so those patterns (one per number of observations) keep the
// grid.
func censoredLogMarginal(h Hyper, obs []float64) float64 {
	lm, _ := censoredLogMarginalGrad(h, obs, false)
	return lm
}

// censoredLogMarginalGrad is censoredLogMarginal and, if grad, its
// gradient in (mu0, log tau, log sigma): the posterior expectation of
// the log density's derivatives, on the same nodes and weights.
func censoredLogMarginalGrad(h Hyper, obs []float64, grad bool) (float64, [3]float64) {
	c := newCensoredPattern(h, obs)
	if c.pos == 0 {
		theta, w, lm := censoredPosterior(h, obs)
		if !grad {
			return lm, [3]float64{}
		}
		return lm, c.gradient(theta, w)
	}
	mu0, tau, sigma, zeros, pos, sum := h.Mu0, h.Tau, h.Sigma, c.zeros, c.pos, c.sum
	logPost, slope := c.logPost, c.slope
	prec := 1/(tau*tau) + float64(pos)/(sigma*sigma)
	// minus the slope's derivative: d/du phi/Phi-bar = M (M - u).
	curvature := func(t float64) float64 {
		u := t / sigma
		m := millsInverse(u)
		return prec + float64(zeros)*m*(m-u)/(sigma*sigma)
	}
	// The mode by Newton's method, kept inside a bracket that bisection
	// narrows whenever a step would leave it (slope decreasing).
	lo, hi := c.modeBracket()
	t := (mu0/(tau*tau) + sum/(sigma*sigma)) / prec
	for range 200 {
		g := slope(t)
		if g > 0 {
			lo = t
		} else {
			hi = t
		}
		next := t + g/curvature(t)
		if !(next > lo && next < hi) {
			next = (lo + hi) / 2
		}
		done := math.Abs(next-t) <= 1e-12*(math.Abs(t)+tau+sigma)
		t = next
		if done {
			break
		}
	}
	scale := math.Sqrt2 / math.Sqrt(curvature(t))
	top := logPost(t)
	total := 0.0
	var theta, w [hermiteNodes]float64
	for i, x := range hermiteX {
		theta[i] = t + scale*x
		w[i] = hermiteW[i] * math.Exp(logPost(theta[i])-top+x*x)
		total += w[i]
	}
	lm := top + math.Log(total*scale) + c.logScale()
	if !grad {
		return lm, [3]float64{}
	}
	for i := range w {
		w[i] /= total
	}
	return lm, c.gradient(theta[:], w[:])
}

// gradient is the gradient of the log marginal likelihood in (mu0,
// log tau, log sigma), given the posterior of theta as nodes with
// normalised weights: the expectation of logPost's derivatives plus
// logScale's. The derivative of a censored observation's log tail
// probability, log Phi-bar(theta / sigma), in log sigma is
// M(u) u, u = theta / sigma, M the inverse Mills ratio.
func (c censoredPattern) gradient(theta, w []float64) [3]float64 {
	mu0, tau, sigma := c.h.Mu0, c.h.Tau, c.h.Sigma
	var g [3]float64
	for i, t := range theta {
		d := (t - mu0) / tau
		res := 0.0
		for _, x := range c.obs {
			if x != 0 {
				res += sq((x - t) / sigma)
			}
		}
		u := t / sigma
		g[0] += w[i] * d / tau
		g[1] += w[i] * d * d
		g[2] += w[i] * (res + float64(c.zeros)*millsInverse(u)*u)
	}
	g[1] -= 1
	g[2] -= float64(c.pos)
	return g
}

// hermiteNodes is the order of censoredLogMarginal's Gauss-Hermite rule;
// hermiteX and hermiteW are its nodes and weights (weight e^-x^2).
const hermiteNodes = 24

var hermiteX, hermiteW = func() ([]float64, []float64) {
	x, w := make([]float64, hermiteNodes), make([]float64, hermiteNodes)
	quad.Hermite{}.FixedLocations(x, w, math.Inf(-1), math.Inf(1))
	return x, w
}()

// halfLog2Pi is log(2 pi) / 2.
const halfLog2Pi = 0.91893853320467274178

func sq(x float64) float64 { return x * x }

// logNormalTail is log P(Z > t) for a standard normal Z, by its asymptotic
// series where P underflows.
func logNormalTail(t float64) float64 {
	if t < 30 {
		return math.Log(0.5 * math.Erfc(t/math.Sqrt2))
	}
	return -t*t/2 - math.Log(t) - 0.5*math.Log(2*math.Pi) + math.Log1p(-1/(t*t)+3/(t*t*t*t))
}

// millsInverse is phi(t) / P(Z > t), the derivative of -logNormalTail.
func millsInverse(t float64) float64 {
	if t < 30 {
		return distuv.UnitNormal.Prob(t) / (0.5 * math.Erfc(t/math.Sqrt2))
	}
	return t + 1/t - 2/(t*t*t)
}

func allEqual(xs []float64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// decideZeroInflated is the Bayes decision for zero-inflated gamma-Poisson
// demand: lambda = 0 with probability Zero, else Gamma(Shape, Rate). An
// instance that sold S units in n days is a never-seller with posterior
// weight Zero 1[S = 0] against (1 - Zero) P(S | gamma), P(0) = (b/(b+n))^a;
// its predictive is that mixture of a point mass at 0 and the negative
// binomial of a seller, and the order is the mixture's rho-quantile.
func (b Bayes) decideZeroInflated(p *data.Portfolio) []float64 {
	q := make([]float64, p.Len())
	a, r := b.Hyper.Shape, b.Hyper.Rate
	for k, o := range p.Obs {
		n, sum := float64(len(o)), 0.0
		for _, x := range o {
			sum += x
		}
		seller := dist.NegBinomial{R: a + sum, P: (r + n) / (r + n + 1)}
		w0, w1 := 0.0, 1-b.Zero
		if sum == 0 {
			w0, w1 = b.Zero, (1-b.Zero)*math.Pow(r/(r+n), a)
		}
		q[k] = zeroInflatedQuantile(p.Ratios[k], w0/(w0+w1), seller.Quantile)
	}
	return q
}

// zeroInflatedQuantile is the rho-quantile of the mixture of a point mass
// at 0, of weight never, and a seller's predictive, whose quantile at a
// level is quantile(level): 0 where never reaches rho, else the seller's
// quantile at (rho - never) / (1 - never), the smallest x with never +
// (1 - never) F(x) >= rho.
func zeroInflatedQuantile(rho, never float64, quantile func(level float64) float64) float64 {
	if never >= rho-probTol {
		return 0
	}
	return quantile((rho - never) / (1 - never))
}

// neverSellerWeight is the posterior probability that a product whose
// every day is 0 never sells: a share zero of the products never sell,
// and the sellers' prior gives its days log probability logZeros.
func neverSellerWeight(zero, logZeros float64) float64 {
	return zero / (zero + (1-zero)*math.Exp(logZeros))
}

// soldNothing reports whether every day of o is 0.
func soldNothing(o []float64) bool {
	return !slices.ContainsFunc(o, func(x float64) bool { return x != 0 })
}

// lognormalFamilyIndex is the index of "lognormal" in the managerial
// priors' family list, as environments record it.
var lognormalFamilyIndex = slices.Index(prior.Families, "lognormal")

// EmpiricalBayes estimates a Family's hyperparameters across instances and
// decides each instance's posterior-predictive rho-quantile.
type EmpiricalBayes struct {
	Family Family
	Method Estimation
	// Censored (NormalFamily) reads zero observations as censored demand,
	// at most zero, as prior.Prior.Generate makes them: the
	// hyperparameters maximise the censored marginal likelihood and each
	// instance orders Bayes's censored posterior-predictive quantile under
	// them (Bayes.normalQuantile). On data without zeros it is eb-ml.
	Censored bool
}

func (e EmpiricalBayes) Name() string {
	name := "eb"
	if e.Family == GammaPoissonFamily {
		name = "eb-gamma-poisson"
	} else if e.Censored {
		return "eb-censored"
	}
	if e.Method == MarginalLikelihood {
		name += "-ml"
	}
	return name
}

func (e EmpiricalBayes) Decide(p *data.Portfolio) ([]float64, error) {
	if err := e.check(p); err != nil {
		return nil, err
	}
	if e.Family == GammaPoissonFamily {
		h, err := estimateGammaPoisson(p, e.Method)
		if err != nil {
			return nil, err
		}
		return h.decide(p), nil
	}
	// The normal model is location-scale equivariant: fit and decide in
	// units of the largest observation, so that squares cannot overflow
	// on large (finite) data, then scale back.
	sp, c := unitScaled(p)
	if e.Censored {
		h, err := estimateCensoredNormal(sp)
		if err != nil {
			return nil, err
		}
		q, err := Bayes{Hyper: h}.Decide(sp)
		for k := range q {
			q[k] *= c
		}
		return q, err
	}
	h, err := estimateNormal(sp, e.Method)
	if err != nil {
		return nil, err
	}
	q := h.decide(sp)
	for k := range q {
		q[k] *= c
	}
	return q, nil
}

// Estimate returns the estimated hyperparameters.
func (e EmpiricalBayes) Estimate(p *data.Portfolio) (Hyper, error) {
	if err := e.check(p); err != nil {
		return Hyper{}, err
	}
	if e.Family == GammaPoissonFamily {
		return estimateGammaPoisson(p, e.Method)
	}
	sp, c := unitScaled(p)
	var h Hyper
	var err error
	if e.Censored {
		h, err = estimateCensoredNormal(sp)
	} else {
		h, err = estimateNormal(sp, e.Method)
	}
	h.Mu0, h.Tau, h.Sigma = h.Mu0*c, h.Tau*c, h.Sigma*c
	return h, err
}

// estimateCensoredNormal maximises the normal-normal marginal likelihood
// of p with zero observations read as censored (censoredPosterior's
// quadrature for the instances that have one, the closed form for the
// others), over mu0, log tau and log sigma from the moment estimates.
func estimateCensoredNormal(p *data.Portfolio) (Hyper, error) {
	start, err := estimateNormal(p, Moments)
	if err != nil {
		return Hyper{}, err
	}
	// Instances with a zero, each distinct multiset of observations once
	// with its count (count data repeat a few patterns, all zeros most).
	var censored [][]float64
	var times []float64
	seen := map[string]int{}
	for _, o := range p.Obs {
		if !slices.Contains(o, 0) {
			continue
		}
		sorted := slices.Sorted(slices.Values(o))
		key := fmt.Sprint(sorted)
		if i, ok := seen[key]; ok {
			times[i]++
			continue
		}
		seen[key] = len(censored)
		censored, times = append(censored, sorted), append(times, 1)
	}
	if len(censored) == 0 {
		return estimateNormal(p, MarginalLikelihood)
	}
	var exact []int // instances without a zero: the closed form
	for k, o := range p.Obs {
		if !slices.Contains(o, 0) {
			exact = append(exact, k)
		}
	}
	st := statsOf(p)
	// nll is the negative log marginal likelihood in (mu0, log tau,
	// log sigma) and, if g is not nil, its gradient into g.
	nll := func(x, g []float64) float64 {
		h := Hyper{Family: NormalFamily, Mu0: x[0], Tau: math.Exp(x[1]), Sigma: math.Exp(x[2])}
		t2, s2 := h.Tau*h.Tau, h.Sigma*h.Sigma
		ll := 0.0
		var dl [3]float64
		for _, k := range exact {
			n, d := st.n[k], st.mean[k]-h.Mu0
			v := s2 + n*t2
			ll -= n*halfLog2Pi + ((n-1)*math.Log(s2)+math.Log(v)+st.ss[k]/s2+n*d*d/v)/2
			dl[0] += n * d / v
			dl[1] -= t2 * (n/v - n*n*d*d/(v*v))
			dl[2] -= s2 * ((n-1)/s2 + 1/v - st.ss[k]/(s2*s2) - n*d*d/(v*v))
		}
		lms := make([]float64, len(censored))
		grads := make([][3]float64, len(censored))
		parallelFor(len(censored), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				lms[i], grads[i] = censoredLogMarginalGrad(h, censored[i], g != nil)
			}
		})
		for i, lm := range lms {
			ll += times[i] * lm // summed in order: the fit does not depend on scheduling
			for j := range dl {
				dl[j] += times[i] * grads[i][j]
			}
		}
		if g != nil {
			for j := range dl {
				g[j] = -dl[j]
			}
		}
		if math.IsNaN(ll) {
			return math.Inf(1)
		}
		return -ll
	}
	x0 := []float64{start.Mu0, math.Log(max(start.Tau, 0.1*start.Sigma)), math.Log(start.Sigma)}
	// BFGS on the quadrature's gradient: Nelder-Mead took 278
	// evaluations (515 with its default stop) on a wide portfolio of
	// K = 1,000, most of the fit's time where most instances hold a zero.
	// BenchmarkEstimateCensored: 15 ms against 189 ms (Nelder-Mead,
	// the benchmark run at commit 18d86a3) on that portfolio, at the same
	// optimum to 1e-8 relative, and 26 ms against 188 ms on noisy gamma
	// demand, K = 300. Of the fits of one `ptft suite` run, 12 fell back
	// to Nelder-Mead below.
	// BFGS's line search asks for the value and then the gradient at
	// each point: one pass computes both, kept for the second call.
	var lastX, lastG []float64
	problem := optimize.Problem{
		Func: func(x []float64) float64 {
			lastX, lastG = append(lastX[:0], x...), make([]float64, len(x))
			return nll(x, lastG)
		},
		Grad: func(g, x []float64) {
			if slices.Equal(x, lastX) {
				copy(g, lastG)
				return
			}
			nll(x, g)
		},
	}
	settings := &optimize.Settings{GradientThreshold: 1e-7 * float64(p.Len())}
	res, err := optimize.Minimize(problem, x0, settings, &optimize.BFGS{})
	if err != nil {
		// BFGS stopped without converging (a line search that found no
		// lower point, where the quadrature's value and gradient
		// disagree at their last digits or the likelihood is flat):
		// Nelder-Mead, which asks nothing of the gradient, goes on from
		// the best point it reached.
		if res != nil && !math.IsInf(res.F, 0) && !math.IsNaN(res.F) {
			x0 = res.X
		}
		nm := &optimize.Settings{Converger: &optimize.FunctionConverge{Absolute: 1e-10, Iterations: 20}}
		value := func(x []float64) float64 { return nll(x, nil) }
		res, err = optimize.Minimize(optimize.Problem{Func: value}, x0, nm, &optimize.NelderMead{})
	}
	if err != nil && res == nil {
		return Hyper{}, fmt.Errorf("%s: eb-censored marginal likelihood: %w", p.Source, err)
	}
	h := Hyper{Family: NormalFamily, Mu0: res.X[0], Tau: math.Exp(res.X[1]), Sigma: math.Exp(res.X[2])}
	if !(h.Tau > 0 && h.Sigma > 0) || math.IsInf(h.Mu0, 0) || math.IsNaN(h.Mu0) {
		return Hyper{}, fmt.Errorf("%s: eb-censored: marginal likelihood fit failed (mu0 %v, tau %v, sigma %v)", p.Source, h.Mu0, h.Tau, h.Sigma)
	}
	return h, nil
}

func (e EmpiricalBayes) check(p *data.Portfolio) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Len() < 2 {
		return fmt.Errorf("%s: empirical Bayes needs at least 2 instances, got %d", p.Source, p.Len())
	}
	return nil
}

// unitScaled returns p divided by its largest observation c (p itself and
// c = 1 when every observation is zero).
func unitScaled(p *data.Portfolio) (*data.Portfolio, float64) {
	c := 0.0
	for _, o := range p.Obs {
		for _, x := range o {
			c = max(c, x)
		}
	}
	if c == 0 {
		return p, 1
	}
	sp := *p
	sp.Obs = make([][]float64, len(p.Obs))
	for k, o := range p.Obs {
		so := make([]float64, len(o))
		for i, x := range o {
			so[i] = x / c
		}
		sp.Obs[k] = so
	}
	return &sp, c
}

type instanceStats struct{ n, mean, ss []float64 }

func statsOf(p *data.Portfolio) instanceStats {
	k := p.Len()
	s := instanceStats{make([]float64, k), make([]float64, k), make([]float64, k)}
	for i, obs := range p.Obs {
		m := 0.0
		for _, x := range obs {
			m += x
		}
		m /= float64(len(obs))
		ss := 0.0
		for _, x := range obs {
			ss += (x - m) * (x - m)
		}
		s.n[i], s.mean[i], s.ss[i] = float64(len(obs)), m, ss
	}
	return s
}

func estimateNormal(p *data.Portfolio, method Estimation) (Hyper, error) {
	st := statsOf(p)
	k := float64(p.Len())
	ssw, dfw := 0.0, 0.0
	for i := range st.n {
		ssw += st.ss[i]
		dfw += st.n[i] - 1
	}
	if dfw == 0 {
		return Hyper{}, fmt.Errorf("%s: eb-normal needs an instance with two or more observations to estimate the within-instance variance", p.Source)
	}
	s2 := ssw / dfw
	if s2 == 0 {
		return Hyper{}, fmt.Errorf("%s: eb-normal: every instance's observations are constant", p.Source)
	}
	mu0, v, noise := 0.0, 0.0, 0.0
	for i := range st.n {
		mu0 += st.mean[i]
		noise += s2 / st.n[i]
	}
	mu0 /= k
	for _, m := range st.mean {
		v += (m - mu0) * (m - mu0)
	}
	t2 := max(0, v/(k-1)-noise/k)
	h := Hyper{Family: NormalFamily, Mu0: mu0, Tau: math.Sqrt(t2), Sigma: math.Sqrt(s2)}
	if method != MarginalLikelihood {
		return h, nil
	}
	// Marginal log-likelihood with mu0 profiled out; parameters are
	// log tau^2 and log sigma^2.
	nll := func(x []float64) float64 {
		t2, s2 := math.Exp(x[0]), math.Exp(x[1])
		sw, swm := 0.0, 0.0
		for i := range st.n {
			w := 1 / (t2 + s2/st.n[i])
			sw += w
			swm += w * st.mean[i]
		}
		mu := swm / sw
		ll := 0.0
		for i := range st.n {
			vi := t2 + s2/st.n[i]
			d := st.mean[i] - mu
			ll += -0.5*math.Log(vi) - d*d/(2*vi) - (st.n[i]-1)/2*math.Log(s2) - st.ss[i]/(2*s2)
		}
		return -ll
	}
	x0 := []float64{math.Log(max(t2, 1e-4*s2)), math.Log(s2)}
	res, err := optimize.Minimize(optimize.Problem{Func: nll}, x0, nil, &optimize.NelderMead{})
	if err != nil && res == nil {
		return Hyper{}, fmt.Errorf("%s: eb-normal marginal likelihood: %w", p.Source, err)
	}
	t2, s2 = math.Exp(res.X[0]), math.Exp(res.X[1])
	sw, swm := 0.0, 0.0
	for i := range st.n {
		w := 1 / (t2 + s2/st.n[i])
		sw += w
		swm += w * st.mean[i]
	}
	return Hyper{Family: NormalFamily, Mu0: swm / sw, Tau: math.Sqrt(t2), Sigma: math.Sqrt(s2)}, nil
}

// negBinomialTotalLogLik is log P(total s of n counts) when the rate is
// Gamma(shape a, rate b): the negative binomial, less the -log s! that
// every count model here leaves out.
func negBinomialTotalLogLik(s, n, a, b float64) float64 {
	lgs, _ := math.Lgamma(s + a)
	lga, _ := math.Lgamma(a)
	return lgs - lga + a*math.Log(b/(b+n)) + s*math.Log(n/(b+n))
}

func estimateGammaPoisson(p *data.Portfolio, method Estimation) (Hyper, error) {
	for i, obs := range p.Obs {
		for _, x := range obs {
			if x != math.Trunc(x) {
				return Hyper{}, fmt.Errorf("%s: instance %q: eb-gamma-poisson needs integer counts, got %v", p.Source, p.IDs[i], x)
			}
		}
	}
	st := statsOf(p)
	k := float64(p.Len())
	m, v, noise := 0.0, 0.0, 0.0
	for i := range st.n {
		m += st.mean[i]
	}
	m /= k
	if m == 0 {
		return Hyper{}, fmt.Errorf("%s: eb-gamma-poisson: every count is zero", p.Source)
	}
	for i := range st.n {
		v += (st.mean[i] - m) * (st.mean[i] - m)
		noise += m / st.n[i]
	}
	varLambda := v/(k-1) - noise/k
	h := Hyper{Family: GammaPoissonFamily, Shape: math.Inf(1), Mean: m}
	if varLambda > 0 {
		h.Shape, h.Rate = m*m/varLambda, m/varLambda
	}
	if method != MarginalLikelihood {
		return h, nil
	}
	// Each instance's total S_k ~ NegBinomial(shape, rate/(rate+n_k)).
	nll := func(x []float64) float64 {
		a, b := math.Exp(x[0]), math.Exp(x[1])
		ll := 0.0
		for i := range st.n {
			ll += negBinomialTotalLogLik(st.mean[i]*st.n[i], st.n[i], a, b)
		}
		return -ll
	}
	a0, b0 := h.Shape, h.Rate
	if math.IsInf(a0, 1) {
		a0, b0 = 1e3, 1e3/m
	}
	res, err := optimize.Minimize(optimize.Problem{Func: nll}, []float64{math.Log(a0), math.Log(b0)}, nil, &optimize.NelderMead{})
	if err != nil && res == nil {
		return Hyper{}, fmt.Errorf("%s: eb-gamma-poisson marginal likelihood: %w", p.Source, err)
	}
	return Hyper{Family: GammaPoissonFamily, Shape: math.Exp(res.X[0]), Rate: math.Exp(res.X[1])}, nil
}

// LogEB is normal-normal empirical Bayes on log demand, for multiplicative
// heterogeneity (lognormal-like portfolios): y = log(x + c), the
// parametric normal EB of y (Method), then q = exp(y-quantile) - c, floored
// at zero. The offset c is 0 when every observation is positive, else half
// the smallest positive observation, so zeros stay finite and decisions
// scale with the data.
type LogEB struct{ Method Estimation }

func (l LogEB) Name() string {
	if l.Method == MarginalLikelihood {
		return "eb-log-ml"
	}
	return "eb-log"
}

// Offset returns the c that LogEB adds before taking logs.
func (LogEB) Offset(p *data.Portfolio) (float64, error) {
	minPos, hasZero := math.Inf(1), false
	for _, o := range p.Obs {
		for _, x := range o {
			if x > 0 {
				minPos = min(minPos, x)
			} else {
				hasZero = true
			}
		}
	}
	if math.IsInf(minPos, 1) {
		return 0, fmt.Errorf("%s: eb-log: every observation is zero", p.Source)
	}
	if hasZero {
		return minPos / 2, nil
	}
	return 0, nil
}

// logObs is log(x + c) of p's observations, per instance.
func logObs(p *data.Portfolio, c float64) [][]float64 {
	ys := make([][]float64, p.Len())
	for k, o := range p.Obs {
		ys[k] = make([]float64, len(o))
		for j, x := range o {
			ys[k][j] = math.Log(x + c)
		}
	}
	return ys
}

func (l LogEB) Decide(p *data.Portfolio) ([]float64, error) {
	if err := (EmpiricalBayes{}).check(p); err != nil {
		return nil, err
	}
	c, err := l.Offset(p)
	if err != nil {
		return nil, err
	}
	lp := *p
	lp.Obs = logObs(p, c)
	h, err := estimateNormal(&lp, l.Method)
	if err != nil {
		return nil, fmt.Errorf("%w (on log demand)", err)
	}
	q := make([]float64, p.Len())
	for k := range q {
		q[k] = max(0, math.Exp(h.Predictive(lp.Obs[k]).Quantile(p.Ratios[k]))-c)
	}
	return q, nil
}

// ManagerialBayes is the Bayes-optimal policy of a managerial environment
// without observation noise, by quadrature on its known prior: product
// means m ~ lognormal (mean Level, cv Spread), demand FamilyDist(Family, m,
// CV) given m. Each instance integrates over log m on a grid of its own
// (managerialNodes nodes), placed where its posterior lies and refined
// until it holds the posterior (see posteriorGrid), and orders the
// rho-quantile of the posterior-predictive mixture. A grid shared by all
// instances would not do: a product far in the prior's tail, whose
// observations pin its mean down, has its posterior between two of a
// shared grid's widely spaced tail nodes or beyond the last one.
type ManagerialBayes struct {
	Family            string
	Level, Spread, CV float64
	MixWeight, MixGap float64
	// Zero is the share of products that never sell (zero inflation,
	// prior.Alter): a product whose every day is 0 never sells with
	// posterior probability Zero / (Zero + (1 - Zero) P(its zeros)), the
	// latter the prior's marginal probability of its days, and orders the
	// rho-quantile of that mixture of 0 and its posterior predictive.
	Zero float64
}

// managerialNodes is each instance's grid size; posteriorGrid starts it
// posteriorSpan approximate posterior standard deviations either side of
// the posterior's centre, nodes 0.06 of them apart.
const (
	managerialNodes = 400
	posteriorSpan   = 12.0
)

func (ManagerialBayes) Name() string { return "bayes" }

// BayesPolicy returns the Bayes-optimal policy of an environment's prior
// kind and drawn hyperparameters: BayesFromPrior's closed forms, else, for
// a managerial environment without observation noise, ManagerialBayes by
// quadrature.
func BayesPolicy(kind string, hyper map[string]float64) (Policy, error) {
	b, err := BayesFromPrior(kind, hyper)
	if err == nil || kind != "managerial" || hyper["constant_share"] > 0 || hyper["gross_rate"] > 0 {
		return b, err
	}
	fi, ok := hyper["family_index"]
	if !ok || int(fi) < 0 || int(fi) >= len(prior.Families) || hyper["noise"] != 0 {
		return nil, err
	}
	return ManagerialBayes{Family: prior.Families[int(fi)], Level: hyper["level"], Spread: hyper["spread"], CV: hyper["cv"],
		MixWeight: hyper["mix_weight"], MixGap: hyper["mix_gap"], Zero: hyper["zero_share"]}, nil
}

func (b ManagerialBayes) Decide(p *data.Portfolio) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if b.Spread == 0 {
		// One product mean: the prior is a point and the data change
		// nothing, but for the chance that a product of zeros never sells.
		d := dist.NonNegative(prior.FamilyDist(b.Family, b.Level, b.CV, b.MixWeight, b.MixGap))
		ld, _ := d.(dist.LogDensity)
		q := make([]float64, p.Len())
		for k, o := range p.Obs {
			never := 0.0
			if b.Zero > 0 && ld != nil && soldNothing(o) {
				never = neverSellerWeight(b.Zero, float64(len(o))*ld.LogProb(0))
			}
			q[k] = max(0, zeroInflatedQuantile(p.Ratios[k], never, d.Quantile))
		}
		return q, nil
	}
	s2 := math.Log1p(b.Spread * b.Spread)
	logMean := distuv.Normal{Mu: math.Log(b.Level) - s2/2, Sigma: math.Sqrt(s2)}
	discrete := b.Family == "poisson" || b.Family == "negbinomial"
	q := make([]float64, p.Len())
	var mu sync.Mutex
	var err error
	parallelFor(p.Len(), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			atoms, post, logEvidence, e := b.posteriorGrid(logMean, p.Obs[k])
			if e != nil {
				mu.Lock()
				err = fmt.Errorf("%s: instance %q: %w", p.Source, p.IDs[k], e)
				mu.Unlock()
				return
			}
			cdf := func(x float64) float64 {
				c := 0.0
				for i, a := range atoms {
					c += post[i] * a.CDF(x)
				}
				return c
			}
			quantile := func(level float64) float64 {
				// Between the posterior atoms' own quantiles.
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, a := range atoms {
					lo, hi = min(lo, a.Quantile(level)), max(hi, a.Quantile(level))
				}
				if discrete {
					return dist.DiscreteQuantile(cdf, level, lo)
				}
				return max(0, bisectQuantile(cdf, level, lo, hi, 1e-10))
			}
			never := 0.0
			if b.Zero > 0 && soldNothing(p.Obs[k]) {
				never = neverSellerWeight(b.Zero, logEvidence)
			}
			q[k] = zeroInflatedQuantile(p.Ratios[k], never, quantile)
		}
	})
	return q, err
}

// posteriorGrid returns the demand distributions at the nodes of an
// instance's grid on log m and their posterior weights (those above 1e-12
// of the total). The grid starts from a normal approximation of the
// posterior of log m (the prior's and the observations' mean, the latter
// with the family's relative spread at it over sqrt(n)), posteriorSpan of
// its standard deviations either side. It is widened while an end node
// holds more than 1e-12 of the posterior, and narrowed onto the nodes
// that hold more than 1e-14 of it while the posterior's standard deviation
// spans fewer than two node steps (the midpoint rule on a smooth
// posterior is then exact to far below the evaluator's precision). The
// approximation's errors, a posterior narrower, wider or more skewed than
// it, or two-mode demand's second mode, cost iterations, not accuracy.
func (b ManagerialBayes) posteriorGrid(logMean distuv.Normal, obs []float64) (atoms []dist.Distribution, post []float64, logEvidence float64, err error) {
	n := float64(len(obs))
	ybar := 0.0
	for _, x := range obs {
		ybar += x
	}
	ybar /= n
	m := max(ybar, 0.5/n, 1e-6*b.Level)
	rel := b.CV
	switch b.Family {
	case "poisson":
		rel = 1 / math.Sqrt(m)
	case "negbinomial":
		rel = math.Sqrt(1/m + b.CV*b.CV)
	case "mixture":
		rel = b.CV + b.MixGap
	}
	w2 := rel * rel / n
	s2 := logMean.Sigma * logMean.Sigma
	v := 1 / (1/s2 + 1/w2)
	centre := v * (logMean.Mu/s2 + math.Log(m)/w2)
	half := posteriorSpan * math.Sqrt(v)
	nodes := make([]dist.Distribution, managerialNodes)
	logPost := make([]float64, managerialNodes)
	weight := make([]float64, managerialNodes)
	for range 60 {
		step := 2 * half / managerialNodes
		at := func(i int) float64 { return centre - half + (float64(i)+0.5)*step }
		top := math.Inf(-1)
		for i := range nodes {
			x := at(i)
			d := dist.NonNegative(prior.FamilyDist(b.Family, math.Exp(x), b.CV, b.MixWeight, b.MixGap))
			ld, ok := d.(dist.LogDensity)
			if !ok {
				return nil, nil, 0, fmt.Errorf("bayes: family %q has no density to integrate", b.Family)
			}
			l := logMean.LogProb(x)
			for _, y := range obs {
				l += ld.LogProb(y)
			}
			nodes[i], logPost[i] = d, l
			top = max(top, l)
		}
		if math.IsInf(top, -1) || math.IsNaN(top) {
			return nil, nil, 0, fmt.Errorf("its observations have no likelihood under the prior")
		}
		var total, mean, sq float64
		for i, l := range logPost {
			w := math.Exp(l - top)
			weight[i] = w
			total += w
			mean += w * at(i)
			sq += w * at(i) * at(i)
		}
		if weight[0] > 1e-12*total || weight[len(weight)-1] > 1e-12*total {
			half *= 2
			continue
		}
		mean /= total
		if psd := math.Sqrt(max(0, sq/total-mean*mean)); psd < 2*step {
			held := func(w float64) bool { return w > 1e-14*total }
			first, last := slices.IndexFunc(weight, held), len(weight)-1
			for !held(weight[last]) {
				last--
			}
			if h := (at(last) - at(first) + 4*step) / 2; h < half/2 {
				centre, half = (at(first)+at(last))/2, h
				continue
			}
		}
		for i, w := range weight {
			if w /= total; w > 1e-12 {
				atoms = append(atoms, nodes[i])
				post = append(post, w)
			}
		}
		// The midpoint rule's integral of the prior times the
		// likelihood over log m: the marginal probability (density) of
		// obs.
		return atoms, post, top + math.Log(total*step), nil
	}
	return nil, nil, 0, fmt.Errorf("bayes: the posterior of the product mean did not settle on a grid")
}
