package baseline

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
)

// LogNormalTest tests the model of eb-log, normal-normal on log demand
// (y = log(x + c), LogEB's offset c), by two Jarque-Bera statistics: of
// the instances' pooled log residuals, (y - mean y) sqrt(n/(n-1)) over
// instances with two or more observations (normal within products), and
// of the instances' mean logs (normal between them). Each is compared
// with the chi-squared quantile of 2 degrees of freedom at 1 - Level.
//
// The residuals of one instance sum to zero, and the mean logs of
// instances with different n_k mix normals of different variances: both
// widen the statistics beyond their asymptotic null, so the test rejects
// somewhat more often than Level says, which errs towards not using
// eb-log. At K = 300 (its test) it rejects every normal, gamma,
// two-mode, gamma-Poisson and negative binomial portfolio it is shown;
// at smaller K some of them pass, so not rejecting says the data do not
// contradict eb-log's model, not that they follow it.
type LogNormalTest struct {
	// Level is the test's nominal size (0: 0.01).
	Level float64
}

// NormalityResult is a test's outcome (LogNormalTest, NormalTest): the
// Jarque-Bera statistics of the residuals and of the instance means,
// NormalTest's Anderson-Darling statistic of the pair differences (0
// for LogNormalTest), and whether any exceeds its critical value.
type NormalityResult struct {
	Residuals, Means, Pairs float64
	Rejected                bool
}

// Run tests p. It needs four instances, four observations in instances
// of two or more, and some positive observation.
func (t LogNormalTest) Run(p *data.Portfolio) (NormalityResult, error) {
	if err := p.Validate(); err != nil {
		return NormalityResult{}, err
	}
	c, err := LogEB{}.Offset(p)
	if err != nil {
		return NormalityResult{}, err
	}
	means, res := meansAndResiduals(logObs(p, c))
	return normality(p, "log-normal", means, res, t.Level)
}

// NormalTest tests the model of eb and eb-censored, normal-normal on
// demand itself, by LogNormalTest's two Jarque-Bera statistics taken on
// the observations rather than their logs, over the instances that
// never sold zero: of their residuals, and of their means. eb-censored
// reads a zero as demand at most zero, so the days of products near
// zero are not the normal the others' are, and leaving those products
// out cuts the low tail off the means, which a Jarque-Bera statistic
// then rejects (normal-normal, spread 0.6, cv 0.2, n = 2 and 5,
// K = 1,000: 12 to 24 with the censored products' means kept, pulled up
// by their zeros). Where some instance sold zero, the means' statistic
// is therefore the skewness part alone, n/6 skew^2 against chi-squared
// with one degree of freedom, over the means with as many cut from the
// top as instances left out for a zero: a symmetric trim of a normal is
// symmetric, whereas its kurtosis is not the normal's. On those
// portfolios it lay at 0.0 to 1.5 (at 0.0 to 8.6 where cv 0.5 left a
// tenth of the products out). Skewed means without zeros (log-normal,
// gamma, two-mode, normal days around log-normal means) meet the whole
// Jarque-Bera statistic. What LogNormalTest says of its size and power
// holds here too.
//
// A third statistic has the power that the Jarque-Bera statistics lack
// against days of two modes where products have two observations
// (skewness zero, kurtosis near the normal's): the Anderson-Darling
// statistic of the differences x_1 - x_2 of every such instance's first
// two days, normal with mean zero under the model whatever the
// product's mean. On 100 products of two days of two-mode gamma
// mixtures (spread 0.2, cv 0.3) it lay at 2.7 to 13.2 (six portfolios),
// where both Jarque-Bera statistics passed; on normal-normal portfolios
// of two days (spread 0.2 and 0.6, cv 0.2 and 0.5, K = 100 and 1,000)
// at 0.09 to 1.28.
type NormalTest struct {
	// Level is the test's nominal size (0: 0.01).
	Level float64
}

// Run tests p. It needs four instances that never sold zero, and four
// observations in those of two or more.
func (t NormalTest) Run(p *data.Portfolio) (NormalityResult, error) {
	if err := p.Validate(); err != nil {
		return NormalityResult{}, err
	}
	var sold [][]float64
	for _, o := range p.Obs {
		if !slices.Contains(o, 0) {
			sold = append(sold, o)
		}
	}
	means, res := meansAndResiduals(sold)
	r, err := normality(p, "normal", means, res, t.Level)
	if err != nil {
		return r, err
	}
	level := cmp.Or(t.Level, 0.01)
	if cut := p.Len() - len(sold); cut > 0 {
		slices.Sort(means)
		trimmed := means[:max(0, len(means)-cut)]
		r.Means = math.Inf(1)
		if len(trimmed) >= 4 && stat.Variance(trimmed, nil) > 0 {
			s := stat.Skew(trimmed, nil)
			r.Means = float64(len(trimmed)) / 6 * s * s
		}
		r.Rejected = !(r.Residuals <= distuv.ChiSquared{K: 2}.Quantile(1-level) && r.Means <= distuv.ChiSquared{K: 1}.Quantile(1-level))
	}
	var d []float64
	for _, o := range sold {
		if len(o) >= 2 {
			d = append(d, o[0]-o[1], o[1]-o[0])
		}
	}
	if len(d) >= 8 {
		r.Pairs = andersonDarlingSymmetric(d)
		r.Rejected = r.Rejected || r.Pairs > andersonDarlingCritical(level)
	}
	return r, nil
}

// andersonDarlingSymmetric is the Anderson-Darling statistic of d, a
// sample symmetric about zero (each difference with both signs), against
// the normal of mean zero and d's root mean square, times Stephens'
// small-sample factor 1 + 0.75/m + 2.25/m^2 (m = len(d)).
func andersonDarlingSymmetric(d []float64) float64 {
	x := slices.Clone(d)
	slices.Sort(x)
	m := float64(len(x))
	sd := math.Sqrt(floats.Dot(x, x) / m)
	if sd == 0 {
		return 0
	}
	s := 0.0
	for i := range x {
		lo := distuv.UnitNormal.CDF(x[i] / sd)
		hi := distuv.UnitNormal.CDF(x[len(x)-1-i] / sd)
		s += float64(2*i+1) * (math.Log(max(lo, 1e-300)) + math.Log(max(1-hi, 1e-300)))
	}
	return (-m - s/m) * (1 + 0.75/m + 2.25/(m*m))
}

// andersonDarlingCritical is andersonDarlingSymmetric's critical value
// at level (0: 0.01): its 5%, 1% and 0.1% points on normal differences
// (2,000 simulated samples each of 20, 100 and 1,000 pairs: 0.76-0.80,
// 1.14-1.17, 1.66-1.88), interpolated in the log of the level.
func andersonDarlingCritical(level float64) float64 {
	if level <= 0 {
		level = 0.01
	}
	lv, q := []float64{math.Log(0.001), math.Log(0.01), math.Log(0.05)}, []float64{1.8, 1.15, 0.78}
	l := min(max(math.Log(level), lv[0]), lv[2])
	i := 0
	if l > lv[1] {
		i = 1
	}
	return q[i] + (q[i+1]-q[i])*(l-lv[i])/(lv[i+1]-lv[i])
}

// normality runs the two Jarque-Bera tests at level (0: 0.01) on the
// instance means and the pooled residuals of p on the tested scale;
// name names the test in errors.
func normality(p *data.Portfolio, name string, means, res []float64, level float64) (NormalityResult, error) {
	if len(res) < 4 || len(means) < 4 {
		return NormalityResult{}, fmt.Errorf("%s: %s test: needs four instances and four residuals (instances of two or more observations)", p.Source, name)
	}
	if level <= 0 {
		level = 0.01
	}
	crit := distuv.ChiSquared{K: 2}.Quantile(1 - level)
	r := NormalityResult{Residuals: jarqueBera(res), Means: jarqueBera(means)}
	r.Rejected = !(r.Residuals <= crit && r.Means <= crit)
	return r, nil
}

// jarqueBera is n/6 (skewness^2 + excess kurtosis^2 / 4); +Inf for
// values without spread, which no normal gives.
func jarqueBera(xs []float64) float64 {
	if stat.Variance(xs, nil) == 0 {
		return math.Inf(1)
	}
	s, k := stat.Skew(xs, nil), stat.ExKurtosis(xs, nil)
	return float64(len(xs)) / 6 * (s*s + k*k/4)
}
