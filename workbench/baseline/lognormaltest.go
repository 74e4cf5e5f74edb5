package baseline

import (
	"fmt"
	"math"

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

// LogNormalResult is a test's outcome: the Jarque-Bera statistics of
// the log residuals and of the mean logs, and whether either exceeds
// the critical value.
type LogNormalResult struct {
	Residuals, Means float64
	Rejected         bool
}

// Run tests p. It needs four instances, four observations in instances
// of two or more, and some positive observation.
func (t LogNormalTest) Run(p *data.Portfolio) (LogNormalResult, error) {
	if err := p.Validate(); err != nil {
		return LogNormalResult{}, err
	}
	c, err := LogEB{}.Offset(p)
	if err != nil {
		return LogNormalResult{}, err
	}
	means, res := meansAndResiduals(logObs(p, c))
	if len(res) < 4 || len(means) < 4 {
		return LogNormalResult{}, fmt.Errorf("%s: log-normal test: needs four instances and four residuals (instances of two or more observations)", p.Source)
	}
	level := t.Level
	if level <= 0 {
		level = 0.01
	}
	crit := distuv.ChiSquared{K: 2}.Quantile(1 - level)
	r := LogNormalResult{Residuals: jarqueBera(res), Means: jarqueBera(means)}
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
