package dist

import (
	"math"
	"math/rand/v2"
)

// Censored is the distribution of max(0, X) for X distributed as D: demand
// that a distribution with a negative tail (a normal around a small or
// negative mean) describes, since demand is never negative. Its atom at
// zero carries D's mass below zero, its quantile is max(0, D's), and the
// newsvendor's oracle orders nothing for a product whose demand is mostly
// that atom, as any policy must.
type Censored struct{ D Distribution }

// NonNegative returns d censored at zero, or d itself when d puts no mass
// below zero (to float64 precision), so that counts, gamma and lognormal
// demand keep their own form.
func NonNegative(d Distribution) Distribution {
	if d.CDF(math.Nextafter(0, -1)) == 0 {
		return d
	}
	return Censored{d}
}

func (c Censored) CDF(x float64) float64 {
	if x < 0 {
		return 0
	}
	return c.D.CDF(x)
}

func (c Censored) Quantile(p float64) float64 { return max(0, c.D.Quantile(p)) }

// Mean is E[X] - E[X; X <= 0].
func (c Censored) Mean() float64 { return c.D.Mean() - c.D.PartialMean(0) }

// PartialMean is E[X; 0 < X <= x] for x >= 0: the atom at zero adds nothing.
func (c Censored) PartialMean(x float64) float64 {
	if x < 0 {
		return 0
	}
	return c.D.PartialMean(x) - c.D.PartialMean(0)
}

func (c Censored) Rand(src rand.Source) float64 { return max(0, c.D.Rand(src)) }

func (c Censored) Spec() Spec {
	return Spec{Family: "censored", Components: []Spec{c.D.Spec()}}
}

// LogProb is, with respect to Lebesgue measure plus an atom at zero, the
// log of the atom's mass at zero and D's log density above it (-Inf where
// D has none): the likelihood of an observation censored at zero.
func (c Censored) LogProb(x float64) float64 {
	ld, ok := c.D.(LogDensity)
	switch {
	case x < 0 || !ok:
		return math.Inf(-1)
	case x == 0:
		return math.Log(c.D.CDF(0))
	}
	return ld.LogProb(x)
}
