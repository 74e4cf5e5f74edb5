package dist

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// Normal is the normal distribution N(Mu, Sigma^2).
type Normal struct{ Mu, Sigma float64 }

func (d Normal) gonum(src rand.Source) distuv.Normal {
	return distuv.Normal{Mu: d.Mu, Sigma: d.Sigma, Src: src}
}

func (d Normal) CDF(x float64) float64 { return d.gonum(nil).CDF(x) }

func (d Normal) Quantile(p float64) float64 { checkProb(p); return d.gonum(nil).Quantile(p) }

func (d Normal) Mean() float64 { return d.Mu }

// PartialMean is mu*Phi(z) - sigma*phi(z) with z = (x-mu)/sigma.
func (d Normal) PartialMean(x float64) float64 {
	z := (x - d.Mu) / d.Sigma
	return d.Mu*distuv.UnitNormal.CDF(z) - d.Sigma*distuv.UnitNormal.Prob(z)
}

func (d Normal) Rand(src rand.Source) float64 { return d.gonum(src).Rand() }

func (d Normal) Spec() Spec {
	return Spec{Family: "normal", Params: map[string]float64{"mu": d.Mu, "sigma": d.Sigma}}
}

// LogNormal is the distribution of exp(N(Mu, Sigma^2)).
type LogNormal struct{ Mu, Sigma float64 }

// LogNormalMeanCV returns the lognormal with the given mean and coefficient
// of variation.
func LogNormalMeanCV(mean, cv float64) LogNormal {
	s2 := math.Log1p(cv * cv)
	return LogNormal{Mu: math.Log(mean) - s2/2, Sigma: math.Sqrt(s2)}
}

func (d LogNormal) gonum(src rand.Source) distuv.LogNormal {
	return distuv.LogNormal{Mu: d.Mu, Sigma: d.Sigma, Src: src}
}

func (d LogNormal) CDF(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return d.gonum(nil).CDF(x)
}

func (d LogNormal) Quantile(p float64) float64 { checkProb(p); return d.gonum(nil).Quantile(p) }

func (d LogNormal) Mean() float64 { return math.Exp(d.Mu + d.Sigma*d.Sigma/2) }

// PartialMean is exp(mu+sigma^2/2) * Phi((ln x - mu - sigma^2)/sigma).
func (d LogNormal) PartialMean(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return d.Mean() * distuv.UnitNormal.CDF((math.Log(x)-d.Mu-d.Sigma*d.Sigma)/d.Sigma)
}

func (d LogNormal) Rand(src rand.Source) float64 { return d.gonum(src).Rand() }

func (d LogNormal) Spec() Spec {
	return Spec{Family: "lognormal", Params: map[string]float64{"mu": d.Mu, "sigma": d.Sigma}}
}

// Gamma is the gamma distribution with shape Shape and rate Rate.
type Gamma struct{ Shape, Rate float64 }

// GammaMeanCV returns the gamma distribution with the given mean and
// coefficient of variation.
func GammaMeanCV(mean, cv float64) Gamma {
	shape := 1 / (cv * cv)
	return Gamma{Shape: shape, Rate: shape / mean}
}

func (d Gamma) gonum(src rand.Source) distuv.Gamma {
	return distuv.Gamma{Alpha: d.Shape, Beta: d.Rate, Src: src}
}

func (d Gamma) CDF(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return mathext.GammaIncReg(d.Shape, d.Rate*x)
}

func (d Gamma) Quantile(p float64) float64 { checkProb(p); return d.gonum(nil).Quantile(p) }

func (d Gamma) Mean() float64 { return d.Shape / d.Rate }

// PartialMean is (shape/rate) * P(shape+1, rate*x), P the regularised
// lower incomplete gamma function.
func (d Gamma) PartialMean(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return d.Mean() * mathext.GammaIncReg(d.Shape+1, d.Rate*x)
}

func (d Gamma) Rand(src rand.Source) float64 { return d.gonum(src).Rand() }

func (d Gamma) Spec() Spec {
	return Spec{Family: "gamma", Params: map[string]float64{"shape": d.Shape, "rate": d.Rate}}
}

// Poisson is the Poisson distribution with mean Lambda.
type Poisson struct{ Lambda float64 }

func (d Poisson) CDF(x float64) float64 {
	if x < 0 {
		return 0
	}
	return mathext.GammaIncRegComp(math.Floor(x)+1, d.Lambda)
}

func (d Poisson) Quantile(p float64) float64 {
	return DiscreteQuantile(d.CDF, p, d.Lambda+math.Sqrt(d.Lambda)*distuv.UnitNormal.Quantile(p))
}

func (d Poisson) Mean() float64 { return d.Lambda }

// PartialMean uses k*P(k) = lambda*P(k-1): E[D; D <= m] = lambda*F(m-1).
func (d Poisson) PartialMean(x float64) float64 {
	m := math.Floor(x)
	if m < 1 {
		return 0
	}
	return d.Lambda * d.CDF(m-1)
}

func (d Poisson) Rand(src rand.Source) float64 {
	return distuv.Poisson{Lambda: d.Lambda, Src: src}.Rand()
}

func (d Poisson) Spec() Spec {
	return Spec{Family: "poisson", Params: map[string]float64{"lambda": d.Lambda}}
}

// NegBinomial counts failures before the R-th success with success
// probability P: P(D=k) = C(k+R-1, k) P^R (1-P)^k, mean R(1-P)/P.
// R need not be an integer. It is the gamma-Poisson mixture with gamma shape
// R and rate P/(1-P).
type NegBinomial struct{ R, P float64 }

// NegBinomialMeanVar returns the negative binomial with the given mean and
// variance (variance must exceed the mean).
func NegBinomialMeanVar(mean, variance float64) (NegBinomial, error) {
	if !(variance > mean) || !(mean > 0) {
		return NegBinomial{}, fmt.Errorf("dist: negative binomial needs variance > mean > 0, got mean %v variance %v", mean, variance)
	}
	p := mean / variance
	return NegBinomial{R: mean * p / (1 - p), P: p}, nil
}

func (d NegBinomial) CDF(x float64) float64 {
	if x < 0 {
		return 0
	}
	return mathext.RegIncBeta(d.R, math.Floor(x)+1, d.P)
}

func (d NegBinomial) Quantile(p float64) float64 {
	m := d.Mean()
	sd := math.Sqrt(m / d.P)
	return DiscreteQuantile(d.CDF, p, m+sd*distuv.UnitNormal.Quantile(p))
}

func (d NegBinomial) Mean() float64 { return d.R * (1 - d.P) / d.P }

// PartialMean uses k*NB(k; r, p) = mean*NB(k-1; r+1, p).
func (d NegBinomial) PartialMean(x float64) float64 {
	m := math.Floor(x)
	if m < 1 {
		return 0
	}
	return d.Mean() * mathext.RegIncBeta(d.R+1, m, d.P)
}

func (d NegBinomial) Rand(src rand.Source) float64 {
	lambda := distuv.Gamma{Alpha: d.R, Beta: d.P / (1 - d.P), Src: src}.Rand()
	if lambda <= 0 {
		return 0
	}
	return distuv.Poisson{Lambda: lambda, Src: src}.Rand()
}

func (d NegBinomial) Spec() Spec {
	return Spec{Family: "negbinomial", Params: map[string]float64{"r": d.R, "p": d.P}}
}
