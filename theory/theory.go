// Package theory computes the terms of ptft's error decomposition (see
// README.md in this folder, whose formula numbers the comments cite) and
// fits empirical rates to measured regret, so figures can show bound and
// measurement together. For normal-normal products seen once it gives the
// regret of linear rules in closed form and a lower bound on how near
// Bayes-optimal any rule can stay at two between-product shares at once
// (formula 9, singleday.go).
//
// All quantities are relative to oracle cost: a regret of 0.05 means 5%
// above the cost of ordering each product's true critical quantile.
package theory

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Rate is a power law fitted to measurements: regret ≈ exp(Intercept) K^Slope
// (formula 6), with a confidence interval for the slope.
type Rate struct {
	Slope, SE, Intercept float64
	// Lo and Hi bound the slope at confidence Level (Student t with
	// Points-2 degrees of freedom).
	Lo, Hi, Level float64
	Points        int
}

// FitRate fits log y = a + b log x by least squares. It needs at least three
// points with x, y > 0 (two would leave no degree of freedom for the error).
func FitRate(x, y []float64, level float64) (Rate, error) {
	if len(x) != len(y) {
		return Rate{}, fmt.Errorf("theory: %d x values but %d y values", len(x), len(y))
	}
	if !(level > 0 && level < 1) {
		return Rate{}, fmt.Errorf("theory: confidence level %v outside (0,1)", level)
	}
	var lx, ly []float64
	for i := range x {
		if !(x[i] > 0) || !(y[i] > 0) || math.IsInf(x[i], 0) || math.IsInf(y[i], 0) {
			return Rate{}, fmt.Errorf("theory: point %d (%v, %v): a log-log fit needs positive finite values", i, x[i], y[i])
		}
		lx, ly = append(lx, math.Log(x[i])), append(ly, math.Log(y[i]))
	}
	if len(lx) < 3 {
		return Rate{}, errors.New("theory: a rate needs at least three points")
	}
	a, b := stat.LinearRegression(lx, ly, nil, false)
	mx := stat.Mean(lx, nil)
	var sse, sxx float64
	for i := range lx {
		e := ly[i] - a - b*lx[i]
		sse += e * e
		sxx += (lx[i] - mx) * (lx[i] - mx)
	}
	if sxx == 0 {
		return Rate{}, errors.New("theory: all x values are equal")
	}
	df := float64(len(lx) - 2)
	se := math.Sqrt(sse / df / sxx)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.5 + level/2)
	return Rate{Slope: b, SE: se, Intercept: a, Lo: b - t*se, Hi: b + t*se, Level: level, Points: len(lx)}, nil
}

// PretrainGeneralization is formula (2): the generalisation gap of a model
// with p parameters fitted to m synthetic environments, c sqrt(p log(m) / m).
func PretrainGeneralization(c float64, p int, m float64) float64 {
	if m <= 1 {
		return math.Inf(1)
	}
	return c * math.Sqrt(float64(p)*math.Log(m)/m)
}

// FinetuneGeneralization is formula (4): the generalisation gap of
// finetuning on K instances, c sqrt(log(e K) / K). The number of finetuned
// parameters enters through c (c = c0 sqrt(d_eff), formula 4a).
func FinetuneGeneralization(c float64, k float64) float64 {
	if k < 1 {
		return math.Inf(1)
	}
	return c * math.Sqrt(math.Log(math.E*k)/k)
}

// SelectionGap is formula (5): what early stopping on kVal validation
// instances over t candidate checkpoints can lose against the best of them,
// 2 c sqrt(log(2 t) / kVal).
func SelectionGap(c float64, t int, kVal float64) float64 {
	if kVal < 1 || t < 1 {
		return math.Inf(1)
	}
	return 2 * c * math.Sqrt(math.Log(2*float64(t))/kVal)
}

// Bound is the decomposition (formula 1) with its constants: regret at K is
// at most Floor + min(Pretrain, FinetuneC sqrt(log(eK)/K)) + the selection
// gap of early stopping.
type Bound struct {
	// Floor is R*, the regret of the best decision rule that sees n
	// observations per product (Bayes-optimal under the true environment):
	// no method, at any K, goes below it.
	Floor float64
	// Pretrain is the pretrained model's excess over Floor on the true
	// environment: approximation + pretraining generalisation + prior
	// mismatch (formula 2); it does not depend on K.
	Pretrain float64
	// FinetuneC is the constant of formula (4).
	FinetuneC float64
	// SelectionC, Candidates and ValFraction give formula (5)
	// (SelectionC = 0 leaves the selection gap out).
	SelectionC  float64
	Candidates  int
	ValFraction float64
}

// Terms are the bound's pieces at one K.
type Terms struct {
	K, Floor, Pretrain, Finetune, Selection, Bound float64
}

// At evaluates the bound at K.
func (b Bound) At(k float64) Terms {
	t := Terms{K: k, Floor: b.Floor, Pretrain: b.Pretrain, Finetune: FinetuneGeneralization(b.FinetuneC, k)}
	if b.SelectionC > 0 {
		t.Selection = SelectionGap(b.SelectionC, b.Candidates, b.ValFraction*k)
	}
	t.Bound = t.Floor + math.Min(t.Pretrain, t.Finetune) + t.Selection
	return t
}

// Crossover is the K above which the finetuning term falls below the
// pretraining term (formula 7); +Inf when it never does below 1e9.
func (b Bound) Crossover() float64 {
	if b.FinetuneC <= 0 {
		return 1
	}
	lo, hi := 1.0, 1e9
	if FinetuneGeneralization(b.FinetuneC, hi) > b.Pretrain {
		return math.Inf(1)
	}
	if FinetuneGeneralization(b.FinetuneC, lo) <= b.Pretrain {
		return lo
	}
	for range 200 { // the term decreases in K for K >= 1
		mid := math.Sqrt(lo * hi)
		if FinetuneGeneralization(b.FinetuneC, mid) > b.Pretrain {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// Calibrate fits the bound's constants to measurements at the values k
// (formula 8): Floor and FinetuneC by least squares of the from-scratch
// regret on sqrt(log(eK)/K) (Floor kept >= 0), and Pretrain as the mean
// pretrained-only regret minus Floor (kept >= 0). It needs at least two
// distinct K.
func Calibrate(k, scratch, pretrained []float64) (Bound, error) {
	if len(k) != len(scratch) || len(k) != len(pretrained) {
		return Bound{}, errors.New("theory: calibrate: lengths differ")
	}
	if len(k) < 2 {
		return Bound{}, errors.New("theory: calibrate: need at least two values of K")
	}
	x := make([]float64, len(k))
	for i, v := range k {
		if !(v >= 1) {
			return Bound{}, fmt.Errorf("theory: calibrate: K = %v", v)
		}
		x[i] = FinetuneGeneralization(1, v)
	}
	floor, c := stat.LinearRegression(x, scratch, nil, false)
	if floor < 0 || math.IsNaN(floor) {
		// Refit through the origin: c = <x, y> / <x, x>.
		floor = 0
		var xy, xx float64
		for i := range x {
			xy += x[i] * scratch[i]
			xx += x[i] * x[i]
		}
		c = xy / xx
	}
	if c < 0 {
		c = 0
	}
	pre := stat.Mean(pretrained, nil) - floor
	return Bound{Floor: floor, Pretrain: math.Max(pre, 0), FinetuneC: c}, nil
}
