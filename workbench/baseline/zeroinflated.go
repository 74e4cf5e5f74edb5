package baseline

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"

	"github.com/ptft-lab/ptft/workbench/data"
)

// ZeroInflatedEB is parametric empirical Bayes for intermittent counts
// (zero-inflated gamma-Poisson): a share Zero of the products never sell
// (rate 0), the others have rates Gamma(Shape, Rate) and Poisson counts.
// It fits the three hyperparameters by the marginal likelihood of the
// instances' totals, which are sufficient for the rate, and orders each
// instance's posterior-predictive quantile under them (Bayes's
// zero-inflated rule): an instance that has never sold is a never-seller
// with the posterior weight the fit gives it, the others order the
// negative-binomial quantile of a seller. Where a portfolio has no
// products that never sell, the fitted share is zero and it is
// eb-gamma-poisson-ml.
type ZeroInflatedEB struct{}

func (ZeroInflatedEB) Name() string { return "eb-zi-gamma-poisson" }

// Decide fits p and returns its decisions.
func (z ZeroInflatedEB) Decide(p *data.Portfolio) ([]float64, error) {
	h, zero, err := z.Estimate(p)
	if err != nil {
		return nil, err
	}
	return Bayes{Hyper: h, Zero: zero}.decideZeroInflated(p), nil
}

// totalPattern is the number of instances with one total S of n counts.
type totalPattern struct {
	s, n  float64
	count float64
}

// totalPatterns returns p's distinct (total, length) patterns, which
// share a likelihood term wherever the totals are sufficient, with their
// multiplicities, in a fixed order (an optimiser's path must not depend
// on map order). A non-count observation is an error naming method and
// the instance.
func totalPatterns(p *data.Portfolio, method string) ([]totalPattern, error) {
	byPattern := map[[2]float64]float64{}
	for i, o := range p.Obs {
		for _, x := range o {
			if !IsCount(x) {
				return nil, fmt.Errorf("%s: instance %q: %s needs integer counts, got %v", p.Source, p.IDs[i], method, x)
			}
		}
		byPattern[[2]float64{floats.Sum(o), float64(len(o))}]++
	}
	patterns := make([]totalPattern, 0, len(byPattern))
	for k, c := range byPattern {
		patterns = append(patterns, totalPattern{s: k[0], n: k[1], count: c})
	}
	slices.SortFunc(patterns, func(a, b totalPattern) int {
		return cmp.Or(cmp.Compare(a.s, b.s), cmp.Compare(a.n, b.n))
	})
	return patterns, nil
}

// Estimate returns the fitted gamma hyperparameters of the sellers and
// the share of never-sellers.
func (ZeroInflatedEB) Estimate(p *data.Portfolio) (Hyper, float64, error) {
	if err := p.Validate(); err != nil {
		return Hyper{}, 0, err
	}
	patterns, err := totalPatterns(p, "eb-zi-gamma-poisson")
	if err != nil {
		return Hyper{}, 0, err
	}
	zeros, sellerSum, sellerN := 0.0, 0.0, 0.0
	for _, t := range patterns {
		if t.s == 0 {
			zeros += t.count
		} else {
			sellerSum, sellerN = sellerSum+t.count*t.s, sellerN+t.count*t.n
		}
	}
	if sellerSum == 0 {
		return Hyper{}, 0, fmt.Errorf("%s: eb-zi-gamma-poisson: every count is zero", p.Source)
	}
	h, err := estimateGammaPoisson(p, Moments)
	if err != nil {
		return Hyper{}, 0, err
	}
	// x = (logit share, log shape, log rate).
	nll := func(x []float64) float64 {
		pi := 1 / (1 + math.Exp(-x[0]))
		a, b := math.Exp(x[1]), math.Exp(x[2])
		ll := 0.0
		for _, t := range patterns {
			ll += t.count * zeroInflatedTotalLogLik(t.s, t.n, a, b, pi)
		}
		if math.IsNaN(ll) {
			return math.Inf(1)
		}
		return -ll
	}
	k := float64(p.Len())
	// Starts: the gamma moment fit with a small share, and the sellers'
	// mean with the observed share of instances that never sold.
	a0, b0 := h.Shape, h.Rate
	if math.IsInf(a0, 1) {
		a0, b0 = 1e3, 1e3/h.Mean
	}
	starts := [][]float64{{logit(0.01), math.Log(a0), math.Log(b0)}}
	if zeros > 0 && sellerN > 0 {
		m := sellerSum / sellerN
		starts = append(starts, []float64{logit(min(0.99, max(0.01, zeros/k))), math.Log(2), math.Log(2 / m)})
	}
	best := []float64(nil)
	bestF := math.Inf(1)
	for _, x0 := range starts {
		res, err := optimize.Minimize(optimize.Problem{Func: nll}, x0, nil, &optimize.NelderMead{})
		if res == nil {
			if err != nil {
				return Hyper{}, 0, fmt.Errorf("%s: eb-zi-gamma-poisson marginal likelihood: %w", p.Source, err)
			}
			continue
		}
		if res.F < bestF {
			best, bestF = res.X, res.F
		}
	}
	if best == nil || math.IsInf(bestF, 0) {
		return Hyper{}, 0, fmt.Errorf("%s: eb-zi-gamma-poisson: the marginal likelihood has no finite maximum", p.Source)
	}
	a, b := math.Exp(best[1]), math.Exp(best[2])
	if !(a > 0 && b > 0) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return Hyper{}, 0, fmt.Errorf("%s: eb-zi-gamma-poisson: the fit's gamma (shape %v, rate %v) is not a distribution", p.Source, a, b)
	}
	zero := 1 / (1 + math.Exp(-best[0]))
	if zeros == 0 {
		zero = 0 // no instance could be a never-seller
	}
	return Hyper{Family: GammaPoissonFamily, Shape: a, Rate: b}, zero, nil
}

// ZeroInflationLogRatio is the log-likelihood of p's totals under
// ZeroInflatedEB's fit minus under eb-gamma-poisson-ml's: twice it is
// the likelihood-ratio statistic of a share of never-sellers against
// none, whose null distribution, the share being on its boundary, is an
// equal mixture of 0 and chi-squared(1) (1% level: 2.71).
func ZeroInflationLogRatio(p *data.Portfolio) (float64, error) {
	zi, zero, err := ZeroInflatedEB{}.Estimate(p)
	if err != nil {
		return 0, err
	}
	g, err := estimateGammaPoisson(p, MarginalLikelihood)
	if err != nil {
		return 0, err
	}
	lr := 0.0
	for _, o := range p.Obs {
		s, n := floats.Sum(o), float64(len(o))
		lr += zeroInflatedTotalLogLik(s, n, zi.Shape, zi.Rate, zero)
		if math.IsInf(g.Shape, 1) {
			lr -= s*math.Log(n*g.Mean) - n*g.Mean
		} else {
			lr -= negBinomialTotalLogLik(s, n, g.Shape, g.Rate)
		}
	}
	return max(0, lr), nil
}

// IsCount reports whether x can be a count: an integer small enough to
// be exact in float64 (a float64 above 2^53 is always an integer and
// says nothing).
func IsCount(x float64) bool { return x == math.Trunc(x) && x < 1<<53 }

// zeroInflatedTotalLogLik is log P(total s of n counts) when the rate
// is 0 with probability zero, else Gamma(shape a, rate b), less -log s!
// as negBinomialTotalLogLik: that term is 0 at s = 0, where the two
// components meet, so the mixture's terms are consistent.
func zeroInflatedTotalLogLik(s, n, a, b, zero float64) float64 {
	if zero == 0 {
		return negBinomialTotalLogLik(s, n, a, b)
	}
	l := math.Log1p(-zero) + negBinomialTotalLogLik(s, n, a, b)
	if s == 0 {
		l = logAddExp(math.Log(zero), l)
	}
	return l
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// logAddExp is log(e^a + e^b).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(a, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
