package baseline

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"

	"github.com/ptft-lab/ptft/workbench/data"
)

// WholeUnitsRatios are the log-likelihood ratios of a portfolio's counts
// under continuous days recorded in whole units against eb-negbinomial's
// fitted model (WholeUnitsLogRatios): positive where the days look like
// continuous demand rounded to whole numbers rather than negative
// binomial counts.
type WholeUnitsRatios struct {
	// Normal is for eb's model: product k's days N(mu_k, sigma^2),
	// mu_k ~ N(M, T^2), a day's probability its density at the count
	// (sigma held at normalDaysMinSigma units or more).
	Normal float64
	// LogNormal is for eb-log's: product k's log days N(theta_k,
	// sigma^2), theta_k ~ N(M, S^2), and a day x >= 1 recorded where the
	// demand lies within half a unit of it (0 below 1/2).
	LogNormal float64
}

// WholeUnitsLogRatios compares p's counts under continuous days recorded
// in whole units with eb-negbinomial's model, negative binomial days
// around log-normal means (NegBinomialEB). Each model has three
// parameters, each fitted by its marginal likelihood, and none nests
// another. Normal days spread alike at every level, negative binomial
// days in proportion to it above a few units, as log-normal days do; so
// the spread's growth with the level tells the first apart, and the
// days' shape the last (a gamma's lighter right tail).
func WholeUnitsLogRatios(p *data.Portfolio) (WholeUnitsRatios, error) {
	f, err := newNBFit(p)
	if err != nil {
		return WholeUnitsRatios{}, err
	}
	nb, err := f.estimate(p.Source)
	if err != nil {
		return WholeUnitsRatios{}, err
	}
	ll := f.logLik(nb)
	for _, c := range f.counts {
		l, _ := math.Lgamma(c.x + 1)
		ll -= c.times * l
	}
	normal, err := f.fitNormalDays(p.Source)
	if err != nil {
		return WholeUnitsRatios{}, err
	}
	logNormal, err := f.fitLogNormalDays(p.Source)
	if err != nil {
		return WholeUnitsRatios{}, err
	}
	return WholeUnitsRatios{Normal: normal - ll, LogNormal: logNormal - ll}, nil
}

// lnDaysExact is the count below which a day's probability is the
// normal probability of its half-unit interval on the log scale; from it
// on, the density at the count (the midpoint rule, whose relative error
// is of order (1 + z^2) / (24 (x sigma)^2), z the day's standard score).
const lnDaysExact = 50

// lnDaysInstance is an instance's days for the log-normal-days
// likelihood: the counts below lnDaysExact, and the number, sum and sum
// of squares of the logs of the others; times is how many instances have
// these days (low counts repeat their patterns often).
type lnDaysInstance struct {
	small             []int
	m, sl, sl2, times float64
}

// fitLogNormalDays maximises the marginal log-likelihood of the
// log-normal-days model over M, S and sigma and returns it.
func (f *nbFit) fitLogNormalDays(source string) (float64, error) {
	var inst []lnDaysInstance
	pattern := map[string]int{}
	means := make([]float64, len(f.inst))
	var within, dof float64
	for k, in := range f.inst {
		logs := make([]float64, len(in.obs))
		for j, x := range in.obs {
			logs[j] = math.Log(max(x, 0.5))
		}
		means[k] = stat.Mean(logs, nil)
		if len(logs) > 1 {
			within += stat.Variance(logs, nil) * float64(len(logs)-1)
			dof += float64(len(logs) - 1)
		}
		days := slices.Sorted(slices.Values(in.obs))
		key := fmt.Sprint(days)
		if i, ok := pattern[key]; ok {
			inst[i].times++
			continue
		}
		pattern[key] = len(inst)
		d := lnDaysInstance{times: 1}
		for _, x := range days {
			if x < lnDaysExact {
				d.small = append(d.small, int(x))
				continue
			}
			l := math.Log(x)
			d.m++
			d.sl += l
			d.sl2 += l * l
		}
		inst = append(inst, d)
	}
	sigma0 := 0.5
	if dof > 0 && within > 0 {
		sigma0 = math.Sqrt(within / dof)
	}
	m0, s0 := stat.MeanStdDev(means, nil)
	// The interval probabilities of the small counts at each grid point,
	// recomputed for each sigma.
	top := 0
	for _, in := range inst {
		for _, x := range in.small {
			top = max(top, x)
		}
	}
	g := len(f.logMu)
	logP := make([][]float64, top+1)
	for x := range logP {
		logP[x] = make([]float64, g)
	}
	prior := make([]float64, g)
	sum := make([]float64, g)
	logLik := func(m, s, sigma float64) float64 {
		f.logPriorWeights(NegBinomialHyper{M: m, S: s}, prior)
		for x := range logP {
			lo := math.Inf(-1)
			if x > 0 {
				lo = math.Log(float64(x) - 0.5)
			}
			hi := math.Log(float64(x) + 0.5)
			for i, t := range f.logMu {
				logP[x][i] = logNormalInterval((lo-t)/sigma, (hi-t)/sigma)
			}
		}
		ll := 0.0
		for _, in := range inst {
			// The density of the large counts: sum over them of
			// -log x - log sigma - log(2 pi)/2 - (log x - t)^2 / (2 sigma^2).
			c := -in.sl - in.m*(math.Log(sigma)+0.5*math.Log(2*math.Pi))
			best := math.Inf(-1)
			for i, t := range f.logMu {
				v := prior[i] + c - (in.sl2-2*t*in.sl+in.m*t*t)/(2*sigma*sigma)
				for _, x := range in.small {
					v += logP[x][i]
				}
				sum[i] = v
				best = max(best, v)
			}
			ll += in.times * logSumExp(sum, best)
		}
		return ll
	}
	nll := func(x []float64) float64 {
		ll := logLik(x[0], math.Exp(x[1]), math.Exp(x[2]))
		if math.IsNaN(ll) || math.IsInf(ll, 0) {
			return math.Inf(1)
		}
		return -ll
	}
	x0 := []float64{m0, math.Log(max(s0, 0.05)), math.Log(max(sigma0, 0.02))}
	res, err := optimize.Minimize(optimize.Problem{Func: nll}, x0, &optimize.Settings{FuncEvaluations: 400}, &optimize.NelderMead{})
	if res == nil || math.IsInf(res.F, 0) {
		return 0, fmt.Errorf("%s: log-normal days: the marginal likelihood has no finite maximum: %v", source, err)
	}
	return -res.F, nil
}

// logNormalInterval is log(Phi(b) - Phi(a)) for a < b, accurate in
// either tail.
func logNormalInterval(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return logPhiLower(b)
	}
	if a > 0 {
		// In the upper tail the same mass is Phi(-a) - Phi(-b), whose
		// terms keep their precision.
		a, b = -b, -a
	}
	pb := 0.5 * math.Erfc(-b/math.Sqrt2)
	pa := 0.5 * math.Erfc(-a/math.Sqrt2)
	if d := pb - pa; d > 0 {
		return math.Log(d)
	}
	// Both far in the lower tail: log Phi(b) + log(1 - Phi(a)/Phi(b)),
	// with the Mills ratio for log Phi.
	return logPhiLower(b) + math.Log1p(-math.Exp(logPhiLower(a)-logPhiLower(b)))
}

// logPhiLower is log Phi(z), by its asymptotic series below -30, where
// Erfc underflows.
func logPhiLower(z float64) float64 {
	if z > -30 {
		return math.Log(0.5 * math.Erfc(-z/math.Sqrt2))
	}
	return -z*z/2 - math.Log(-z) - 0.5*math.Log(2*math.Pi) + math.Log1p(-1/(z*z))
}

// fitNormalDays maximises the marginal log-likelihood of the
// normal-days model over M, T and sigma and returns it. An instance's
// days given M, T and sigma are normal with compound symmetry, so its
// likelihood is in closed form in its length, mean and within sum of
// squares.
func (f *nbFit) fitNormalDays(source string) (float64, error) {
	type stats struct{ n, mean, ssw float64 }
	var inst []stats
	var means []float64
	var within, dof float64
	for _, in := range f.inst {
		m, v := stat.MeanVariance(in.obs, nil)
		if in.n < 2 {
			v = 0
		}
		inst = append(inst, stats{in.n, m, v * (in.n - 1)})
		means = append(means, m)
		within += v * (in.n - 1)
		dof += in.n - 1
	}
	m0, s0 := stat.MeanStdDev(means, nil)
	sigma0 := max(normalDaysMinSigma, s0/2)
	if dof > 0 {
		sigma0 = max(normalDaysMinSigma, math.Sqrt(within/dof))
	}
	nll := func(x []float64) float64 {
		m, t, sigma := x[0], math.Exp(x[1]), normalDaysMinSigma+math.Exp(x[2])
		s2, t2 := sigma*sigma, t*t
		ll := 0.0
		for _, in := range inst {
			d := in.mean - m
			ll += -in.n/2*math.Log(2*math.Pi*s2) - 0.5*math.Log1p(in.n*t2/s2) - in.ssw/(2*s2) - in.n*d*d/(2*(s2+in.n*t2))
		}
		if math.IsNaN(ll) {
			return math.Inf(1)
		}
		return -ll
	}
	x0 := []float64{m0, math.Log(max(s0, 1e-3*math.Abs(m0)+1e-9)), math.Log(max(sigma0-normalDaysMinSigma, 1e-3))}
	res, err := optimize.Minimize(optimize.Problem{Func: nll}, x0, &optimize.Settings{FuncEvaluations: 600}, &optimize.NelderMead{})
	if res == nil || math.IsInf(res.F, 0) {
		return 0, fmt.Errorf("%s: normal days: the marginal likelihood has no finite maximum: %v", source, err)
	}
	return -res.F, nil
}

// normalDaysMinSigma is the least day-to-day standard deviation, in
// units, of the normal days WholeUnitsLogRatios fits: from it on, a
// unit's interval has its density at the count's probability within 1%.
const normalDaysMinSigma = 3
