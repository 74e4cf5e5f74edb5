package model

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/ptft-lab/ptft/workbench/data"
)

// Continuous demand recorded in whole units. Sales are usually recorded
// as whole numbers, so a portfolio of normal demand around 200 reaches
// Decide as counts (every observation baseline.IsCount), and the count
// models took it: eb-negbinomial as the incumbent of the rule selection,
// the head with the level in view (experts.go: it sees the level only of
// counts). Scratch, the suite's families at K = 100 / 1,000, three
// portfolios, their days rounded to whole numbers: normal n = 5, rho
// 0.99 8.15 -> 23.77% (K = 100); n = 3, rho 0.95 12.41 -> 15.54; n_k
// 1-10 8.76 -> 11.14; wide 10.85 / 9.64 -> 12.33 / 10.85; 10% constant
// products 6.69 -> 9.31; gross errors 8.14 -> 9.65.
//
// Counts are told apart by how their days spread: a count's days spread
// at least as a Poisson's, whose standard deviation grows as the square
// root of the level, and over-dispersed counts' (negative binomial)
// faster, while normal demand's spread does not grow with the level at
// all. Where the counts are not low (the median positive day above
// countLevel, where whole units are fine enough for any continuous
// model) and the slope of the products' log standard deviation on their
// log mean (wholeUnitsSlope, corrected for the noise of the log means)
// lies below 1/2 at the one-sided 10% level, Decide and SelectRule
// decide p as continuous demand. Products seen once show no spread, so
// their portfolios stay counts: one day cannot tell a Poisson's spread
// from a normal one's (theory/README.md, formula 9), and the count
// models' reading is the one that holds for counts.

// countLevel is the median positive day above which whole numbers may be
// continuous demand recorded in units.
const countLevel = 30

// wholeUnitsSlopeMax is the spread's slope on the level that counts'
// days reach at least (a Poisson's).
const wholeUnitsSlopeMax = 0.5

// wholeUnitsZ is the one-sided 10% point of N(0, 1): the slope must lie
// below wholeUnitsSlopeMax by that many standard errors. Reading counts
// as continuous costs less than the converse. Scratch, the suite's
// normal days (spread 0.2, cv 0.2) rounded to whole numbers, K = 100,
// three portfolios, unrounded -> rounded regret: at the 5% level one
// portfolio of three stayed counts in each of n = 5, rho 0.9 (7.21 ->
// 7.95%), n = 3, rho 0.95 (12.41 -> 15.54%) and n = 5, rho 0.99 (8.15 ->
// 11.98%); at 10% only in the last. Poisson days of level 40 and 100
// (spread 0.2 and 0.5, six portfolios) then read as continuous in some
// portfolios: 14.94 -> 15.44% and 10.44 -> 10.57% at K = 100.
const wholeUnitsZ = 1.282

// wholeUnitsScale multiplies the days of counts decided as continuous
// demand: a positive whole number times it is no whole number (below
// 10^9), so every check reads them as continuous, and the continuous
// rules, which scale with the data (experts.go), give the same decisions
// divided by it.
const wholeUnitsScale = 1 + 1e-9

// asContinuous returns p's days times wholeUnitsScale where p is counts
// recorded from continuous demand (the comment above), and ok false
// otherwise and on binned data (p.Support), whose bins are its units.
func asContinuous(p *data.Portfolio) (c *data.Portfolio, ok bool) {
	if p.Support != nil || !allCounts(p) || medianPositive(p) <= countLevel {
		return nil, false
	}
	slope, se, ok := wholeUnitsSlope(p)
	if !ok || slope+wholeUnitsZ*se >= wholeUnitsSlopeMax {
		return nil, false
	}
	copied := *p
	c = &copied
	c.Obs = make([][]float64, len(p.Obs))
	for i, o := range p.Obs {
		c.Obs[i] = make([]float64, len(o))
		for j, x := range o {
			c.Obs[i][j] = x * wholeUnitsScale
		}
	}
	return c, true
}

// medianPositive is the median of p's positive observations (0 where
// there is none).
func medianPositive(p *data.Portfolio) float64 {
	var pos []float64
	for _, o := range p.Obs {
		for _, x := range o {
			if x > 0 {
				pos = append(pos, x)
			}
		}
	}
	if len(pos) == 0 {
		return 0
	}
	slices.Sort(pos)
	return pos[len(pos)/2]
}

// wholeUnitsSlope is the slope of log standard deviation on log mean
// over p's products of two or more days with positive mean and spread,
// and its standard error; ok is false with fewer than twoDaysMinPairs
// such products or where the products' levels spread too little beside
// their means' noise to tell (reliability below minReliability). The
// least-squares slope is divided by the reliability of the log means,
// one less the share of their variance that their noise explains (a
// product's log mean varies by about s^2 / (n m^2)): regressed on noisy
// levels, the slope shrinks towards 0, and Poisson counts of levels
// close together (gamma-Poisson mean 35, spread 0.2, n = 3) had read as
// continuous (scratch, six portfolios, K = 1,000: 14.24 -> 14.36%).
func wholeUnitsSlope(p *data.Portfolio) (slope, se float64, ok bool) {
	var level, spread []float64
	var noise float64
	for _, o := range p.Obs {
		if len(o) < 2 {
			continue
		}
		m, s := stat.MeanStdDev(o, nil)
		if m > 0 && s > 0 {
			level, spread = append(level, math.Log(m)), append(spread, math.Log(s))
			noise += s * s / (float64(len(o)) * m * m)
		}
	}
	n := len(level)
	if n < twoDaysMinPairs {
		return 0, 0, false
	}
	v := stat.Variance(level, nil)
	reliability := 1 - noise/float64(n)/v
	if v == 0 || reliability < minReliability {
		return 0, 0, false
	}
	alpha, beta := stat.LinearRegression(level, spread, nil, false)
	var sse float64
	for i := range level {
		r := spread[i] - alpha - beta*level[i]
		sse += r * r
	}
	se = math.Sqrt(sse / float64(n-2) / (v * float64(n-1)))
	return beta / reliability, se / reliability, true
}

// minReliability is the least share of the log means' variance that
// must come from the products' levels for wholeUnitsSlope to read it.
const minReliability = 0.5
