package dist

import "math"

// LogDensity is a distribution with a log density (continuous) or log
// probability mass (integer-valued): the likelihood Bayes-optimal policies
// integrate over a known prior.
type LogDensity interface {
	Distribution
	LogProb(x float64) float64
}

const halfLog2Pi = 0.91893853320467274178 // log(2 pi) / 2

func (d Normal) LogProb(x float64) float64 {
	z := (x - d.Mu) / d.Sigma
	return -z*z/2 - math.Log(d.Sigma) - halfLog2Pi
}

func (d LogNormal) LogProb(x float64) float64 {
	if !(x > 0) {
		return math.Inf(-1)
	}
	lx := math.Log(x)
	z := (lx - d.Mu) / d.Sigma
	return -z*z/2 - math.Log(d.Sigma) - lx - halfLog2Pi
}

func (d Gamma) LogProb(x float64) float64 {
	if !(x > 0) {
		return math.Inf(-1)
	}
	lg, _ := math.Lgamma(d.Shape)
	return (d.Shape-1)*math.Log(x) - d.Rate*x + d.Shape*math.Log(d.Rate) - lg
}

// integer returns whether x is a non-negative integer count.
func integer(x float64) bool { return x >= 0 && x == math.Trunc(x) }

func (d Poisson) LogProb(x float64) float64 {
	if !integer(x) {
		return math.Inf(-1)
	}
	lf, _ := math.Lgamma(x + 1)
	return x*math.Log(d.Lambda) - d.Lambda - lf
}

func (d NegBinomial) LogProb(x float64) float64 {
	if !integer(x) {
		return math.Inf(-1)
	}
	a, _ := math.Lgamma(x + d.R)
	b, _ := math.Lgamma(d.R)
	c, _ := math.Lgamma(x + 1)
	return a - b - c + d.R*math.Log(d.P) + x*math.Log1p(-d.P)
}

// LogProb of a mixture of components with log densities (-Inf if one has
// none).
func (m *Mixture) LogProb(x float64) float64 {
	top := math.Inf(-1)
	lp := make([]float64, len(m.Components))
	for i, c := range m.Components {
		ld, ok := c.(LogDensity)
		if !ok {
			return math.Inf(-1)
		}
		lp[i] = math.Log(m.Weights[i]) + ld.LogProb(x)
		top = max(top, lp[i])
	}
	if math.IsInf(top, -1) {
		return top
	}
	s := 0.0
	for _, v := range lp {
		s += math.Exp(v - top)
	}
	return top + math.Log(s)
}
