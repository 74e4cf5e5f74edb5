// Package dist provides the demand distributions of ptft: normal, lognormal,
// gamma, Poisson, negative binomial, finite discrete, two-component (or
// larger) mixtures, the empirical distribution of a sample, and any of
// them censored at zero (demand is never negative).
//
// Every distribution exposes what exact newsvendor evaluation needs: the CDF,
// the quantile (smallest x with CDF(x) >= p), the mean and the partial mean
// E[D; D <= x], in closed form wherever one exists. Sampling takes a
// caller-supplied math/rand/v2 source, so every draw comes from a named seed.
//
// Distributions round-trip through Spec, a JSON-serialisable description used
// by truth files.
package dist

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Distribution is a univariate demand distribution.
type Distribution interface {
	// CDF returns P(D <= x).
	CDF(x float64) float64
	// Quantile returns the smallest x with CDF(x) >= p, for p in (0, 1).
	Quantile(p float64) float64
	// Mean returns E[D].
	Mean() float64
	// PartialMean returns E[D 1{D <= x}].
	PartialMean(x float64) float64
	// Rand draws one value using src.
	Rand(src rand.Source) float64
	// Spec describes the distribution in serialisable form.
	Spec() Spec
}

// probTol absorbs rounding when comparing cumulative probabilities with a
// level, so that for example the 0.95-quantile of 20 equally likely points is
// the 19th, as the order-statistic definition says, despite 0.95*20 rounding.
const probTol = 1e-12

// checkProb panics on a probability level outside (0,1); callers validate
// user input before it reaches a distribution.
func checkProb(p float64) {
	if !(p > 0 && p < 1) {
		panic(fmt.Sprintf("dist: quantile level %v outside (0,1)", p))
	}
}

// DiscreteQuantile returns the smallest integer k >= 0 with cdf(k) >= p,
// starting the search near guess: the quantile of any distribution on
// the non-negative integers (a mixture of them, say) given its CDF.
func DiscreteQuantile(cdf func(float64) float64, p, guess float64) float64 {
	checkProb(p)
	k := math.Max(0, math.Floor(guess))
	if cdf(k) >= p-probTol {
		// Step down by doubling, then bisect.
		step := 1.0
		lo := k
		for lo > 0 && cdf(lo-1) >= p-probTol {
			next := math.Max(0, lo-step)
			if cdf(next) >= p-probTol {
				lo = next
				step *= 2
				continue
			}
			// answer in (next, lo]
			a, b := next, lo
			for b-a > 1 {
				m := math.Floor((a + b) / 2)
				if cdf(m) >= p-probTol {
					b = m
				} else {
					a = m
				}
			}
			return b
		}
		return lo
	}
	step := 1.0
	hi := k
	lo := k
	for cdf(hi) < p-probTol {
		lo = hi
		hi += step
		step *= 2
	}
	for hi-lo > 1 {
		m := math.Floor((lo + hi) / 2)
		if cdf(m) >= p-probTol {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}

// bracketedQuantile finds the smallest x in [lo, hi] with cdf(x) >= p to
// floating-point resolution; cdf(hi) must be >= p.
//
// It brackets the root like bisection but steps by regula falsi with the
// Illinois modification, falling back to halving whenever the bracket has
// not halved over two steps; that makes it at most about twice as slow as
// bisection on a step CDF, and about five times faster on the smooth
// mixtures the training loss evaluates (its oracle quantiles were most of
// the loss's time).
func bracketedQuantile(cdf func(float64) float64, p, lo, hi float64) float64 {
	target := p - probTol
	flo, fhi := math.NaN(), math.NaN()
	if !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
		flo, fhi = cdf(lo)-target, cdf(hi)-target
	}
	last, width2 := 0, hi-lo
	for i := range 400 {
		m := lo + (hi-lo)/2
		if m <= lo || m >= hi {
			break
		}
		x := m
		if i%2 == 0 {
			if hi-lo > width2/2 {
				last = 0 // too slow: bisect this time
			}
			width2 = hi - lo
		}
		if last != 0 && flo < 0 && fhi >= 0 {
			if r := lo - flo*((hi-lo)/(fhi-flo)); r > lo && r < hi {
				// Regula falsi creeps up on the root from one side; a step
				// of a few ulps past it closes the bracket.
				eps := 1e-15 * max(math.Abs(lo), math.Abs(hi))
				x = min(max(r, lo+eps), hi-eps)
				if x <= lo || x >= hi {
					x = m
				}
			}
		}
		fx := cdf(x) - target
		if fx >= 0 {
			hi, fhi = x, fx
			if last == 1 {
				flo /= 2
			}
			last = 1
		} else {
			lo, flo = x, fx
			if last == -1 {
				fhi /= 2
			}
			last = -1
		}
	}
	return hi
}
