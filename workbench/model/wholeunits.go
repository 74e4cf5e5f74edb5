package model

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/baseline"
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
// Counts are told apart by how their days spread and by their shape. A
// count's days spread at least as a Poisson's, whose standard deviation
// grows as the square root of the level, and over-dispersed counts'
// (negative binomial) faster, while normal demand's spread does not grow
// with the level at all. Where the counts are not low (the median
// positive day above countLevel, where whole units are fine enough for
// any continuous model) and the slope of the products' log standard
// deviation on their log mean (wholeUnitsSlope, corrected for the noise
// of the log means) lies below 1/2 at the one-sided 10% level, Decide
// and SelectRule decide p as continuous demand.
//
// The slope has little power where the products are few or their days
// short (its standard error 0.2 to 0.8 on the suite's normal days at
// K = 100), and log-normal demand spreads in proportion to its level, as
// negative binomial counts do beyond a few units, so the slope cannot
// tell them apart. The likelihood can (continuousDaysShow: normal and
// log-normal days recorded in whole units against eb-negbinomial's
// model, baseline.WholeUnitsLogRatios). Where it favours continuous
// days, p is decided as continuous demand too: normal days above
// countLevel, log-normal days also below it where most products have the
// days for the selection's folds (minEvidenceObs): at two days the
// continuous two-day rules read a repeat or the few values of low counts
// as modes (log-normal level 20, cv 1.5, n = 2, rho 0.99, K = 100:
// 51.29 -> 63.82%). The log-normal reading stands aside where
// never-sellers show (zeroInflationShows): log-normal days whose levels
// spread widely round a share of products to zero on every day, and
// intermittent counts had read as log-normal (gamma-Poisson mean 2, 58%
// never selling, n = 4, gross errors, K = 100 / 1,000: 20.06 / 10.57 ->
// 23.70 / 14.48%). Scratch, days rounded,
// three portfolios, K = 100 / 1,000, regret unrounded, rounded
// before -> now (lognormal unless named):
//
//	suite's normal n = 5, rho 0.99 (K = 100):    8.15, 11.98 -> 8.16
//	suite's normal n_k 1-10, rho 0.9 (K = 100):  8.76, 9.44 -> 8.76
//	suite's normal n = 2, rho 0.8 (K = 100):     15.70, 16.24 -> 15.70
//	suite's level 100, spread 1, cv 1.2, n = 5:  11.04 / 10.46, 11.83 / 12.28 -> 11.04 / 10.49
//	level 170, spread 0.6, cv 0.8, n = 4, 0.99:  17.67 / 16.15, 30.50 / 28.04 -> 17.67 / 16.15
//	level 100, spread 1.2, cv 1, n = 6, 0.99:    15.73 / 14.38, 24.83 / 31.52 -> 15.72 / 14.35
//	level 1,000, n_k 2-10, rho 0.99:             16.98 / 14.32, 23.10 / 19.05 -> 16.99 / 14.32
//	level 50, spread 1, cv 2, n = 3, rho 0.9:    10.71 / 11.29, 13.48 / 16.29 -> 10.88 / 11.37
//	level 10, spread 1.1, cv 1.3, n = 3, 0.99:   19.95 / 21.20, 52.66 / 45.18 -> 31.93 / 32.84
//	level 100, cv 0.5, n = 2, rho 0.98:          22.99 / 25.01, 25.08 / 29.85 -> 25.08 / 25.01
//	gamma days, level 100, n = 3, rho 0.99:      39.00 / 30.99, 33.76 / 29.57 -> 36.28 / 29.57
//	two-mode days, level 20, n = 3:              17.77 / 12.88, 23.39 / 13.31 -> 25.29 / 13.95
//
// (the last two, a gamma and a two-mode portfolio of three read as
// log-normal). Gamma days stay counts, where eb-negbinomial, their model
// up to Poisson noise, decides them better than the continuous rules do
// unrounded (level 626, n = 2, rho 0.99: 53.07 / 60.14% against 66.32 /
// 63.12%). The count families (gamma-Poisson means 1-60, negative
// binomial levels 5-300, Poisson days, 20-40% never selling, constant
// products, gross errors; 27 families) printed the same regrets.
//
// A portfolio whose every product is seen once shows no spread: one day
// cannot tell a Poisson's spread from a normal one's (theory/README.md,
// formula 9), and no rule reads the split. Above countLevel it is
// decided as continuous demand, the head's bet, which the suite's normal
// days seen once are, and with them log-normal, two-mode and negative
// binomial days; Poisson days around gamma means, whose split the count
// models know exactly, are not. Scratch, K = 100 / 1,000, rounded, count
// reading -> continuous:
//
//	normal level 200, spread 0.2, cv 0.2, rho 0.8:   50.29 / 57.18 -> 20.73 / 22.86
//	normal spread 0.3, cv 0.3, rho 0.95:           196.57 / 204.84 -> 24.26 / 24.74
//	normal spread 0.6, cv 0.2, rho 0.8:              57.49 / 53.60 -> 62.31 / 53.63
//	log-normal level 100, spread 1, cv 1.2:          66.42 / 61.15 -> 38.29 / 40.40
//	two-mode level 100:                              88.15 / 86.25 -> 68.02 / 67.15
//	negative binomial level 200, spread 0.8, cv 0.5: 133.25 / 114.07 -> 68.70 / 68.80
//	gamma-Poisson mean 109, spread 0.95, rho 0.6:   39.85 / 42.06 -> 130.82 / 119.64
//	gamma-Poisson mean 60, spread 0.5, rho 0.8:     42.41 / 41.58 -> 74.68 / 67.23

// neverSellersSeenOnce reports whether p, every product seen once, holds
// so many days of 0 (neverSellersOnceShare or more) among its high days
// that never-sellers show (zeroInflationShows): a 0 among days around 58
// is a never-seller's, which eb-zi-gamma-poisson prices and the
// continuous rules do not. Scratch, gamma-Poisson mean 58, spread 1,
// seen once, 58% never selling, gross errors, rho 0.9, three portfolios,
// K = 100 / 1,000: 393.80 / 430.75 -> 60.67 / 72.29% (SAA 382.46 /
// 235.58). The share keeps normal days seen once, whose low products
// round to 0 on some days (up to about 8% at spread 0.57 and cv 0.37),
// continuous: with zeroInflationShows alone, normal level 198, spread
// 0.57, cv 0.37, rho 0.99 had gone 73.80 -> 1,089.43% at K = 100.
func neverSellersSeenOnce(p *data.Portfolio) bool {
	zeros := p.Len() - len(soldInstances(p))
	return float64(zeros) >= neverSellersOnceShare*float64(p.Len()) && zeroInflationShows(p)
}

// neverSellersOnceShare is the least share of products seen once at 0
// for neverSellersSeenOnce.
const neverSellersOnceShare = 0.2

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
	if p.Support != nil || !allCounts(p) {
		return nil, false
	}
	high := medianPositive(p) > countLevel
	once := repeatDays(p) == 0
	continuous := high && once && !neverSellersSeenOnce(p)
	if high && !once {
		slope, se, ok := wholeUnitsSlope(p)
		continuous = ok && slope+wholeUnitsZ*se < wholeUnitsSlopeMax
	}
	if !continuous && !once {
		continuous = underDispersed(p)
	}
	if !continuous && (high || 2*evidenceInstances(p) >= p.Len()) {
		continuous = continuousDaysShow(p, high)
	}
	if !continuous {
		return nil, false
	}
	chance := chanceRepeats(p)
	copied := *p
	c = &copied
	c.Obs = make([][]float64, len(p.Obs))
	for i, o := range p.Obs {
		c.Obs[i] = make([]float64, len(o))
		for j, x := range o {
			c.Obs[i][j] = x * wholeUnitsScale
		}
		if chance && isRepeatedPair(o) {
			c.Obs[i][0] = (o[0] - wholeUnitsRepeatGap/2) * wholeUnitsScale
			c.Obs[i][1] = (o[1] + wholeUnitsRepeatGap/2) * wholeUnitsScale
		}
	}
	return c, true
}

// wholeUnitsRepeatGap is how far apart the two days of a product that
// sold one amount on both are read, where chance explains such repeats
// (chanceRepeats): continuous demand never repeats a value, so the
// continuous rules take a repeat for a constant product's mark and stand
// down (twoDayPairs), but in whole units two days of normal demand around
// 200 (sd 40) repeat in one product of 140, and of log-normal demand
// around 50 more often. Two days recorded as one whole number lie within
// one unit of each other, on average 1/3 apart (two uniform points of a
// unit interval), so they are read as their amount less and plus 1/6.
// A billionth apart, as before, their log spread (about -15 against
// the others' 3 to 4) had steered the slope of spread on level
// (pairSpreadSlope) to npmle-log: normal days, n = 2, rho 0.8, K = 1,000,
// days rounded, `ptft suite --whole-units`, one portfolio of three: 16.68
// unrounded, 19.34 rounded.
const wholeUnitsRepeatGap = 1.0 / 3

// chanceRepeats reports whether p's products of two days that sold one
// positive amount on both (repeatedPairCount) are as many as chance gives
// in whole units: as many as a Poisson count of mean E reaches with
// probability constantLevel or more, E the products of two days whose
// days lie 1 to repeatWindow units apart over 2 repeatWindow (the
// differences' density near 0 per unit), or half those one unit apart
// (nearRepeats) where that is more (days of a narrow spread, whose
// density falls within the window). A constant product repeats every
// time: normal days around 200 with 10% constant products, n = 2, K =
// 1,000, repeat in about 107 products where E is about 6. One unit's
// count alone was too few at K = 100: normal days around 200 (sd 40)
// lie one unit apart in about 1.4 products of 100, and where none did, a
// single repeat was read as a constant product's (`ptft suite
// --whole-units`, normal n = 2, rho 0.8, K = 100: the head decided two
// portfolios of three, 15.11 and 17.27% against eb-censored's 14.55 and
// 15.06).
func chanceRepeats(p *data.Portfolio) bool {
	observed := repeatedPairCount(p)
	if observed == 0 {
		return true
	}
	expected := max(pairsApart(p, repeatWindow)/(2*repeatWindow), nearRepeats(p)/2)
	return expected > 0 && distuv.Poisson{Lambda: expected}.Survival(observed-1) >= constantLevel
}

// repeatWindow is the widest difference of two days, in units, that
// chanceRepeats counts.
const repeatWindow = 5

// decideAsContinuous decides p with decide as continuous demand where
// asContinuous reads it so (ok true), in p's units.
func decideAsContinuous(p *data.Portfolio, decide func(*data.Portfolio) ([]float64, error)) (q []float64, ok bool, err error) {
	c, ok := asContinuous(p)
	if !ok {
		return nil, false, nil
	}
	q, err = decide(c)
	for i := range q {
		q[i] /= wholeUnitsScale
	}
	return q, true, err
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

// underDispersed reports whether p's days vary less from day to day than
// Poisson days would (baseline.PoissonDispersion in its lower tail, below
// underDispersionLevel, over the products that do not sell one value
// every day, with at least underDispersionDays degrees of freedom): no
// count model of ours reaches below a Poisson's spread (a negative
// binomial's, a gamma-Poisson's and never-sellers' lie above it), so such
// whole units are continuous demand recorded in units, at any level.
// Below countLevel neither the slope nor the normal likelihood reads
// them. Scratch, normal
// days rounded, three portfolios, K = 100 / 1,000, before -> now
// (unrounded): level 15, sd 2.25, n = 2, rho 0.9: 53.19 / 32.97 -> 20.41
// / 20.68 (20.09 / 20.23); level 8, sd 2.4, n = 5, rho 0.95: 15.17 /
// 6.49 -> 10.40 / 6.50 (7.86 / 6.43); level 10, sd 2, n = 3, rho 0.7:
// 18.74 / 14.36 -> 14.95 / 14.49 (14.24 / 13.83). Where the sd is a
// unit or less (level 6, sd 0.5, n = 8: 26.73 / 33.52 against eb's 9.44
// / 9.03), most products' rounded days repeat one value, and they are
// read as constant products, before and now. Constant products are left
// out here: they have no spread at all, and with them Poisson days of
// 30% constant products would read as continuous.
func underDispersed(p *data.Portfolio) bool {
	var varied []int
	for i, o := range p.Obs {
		if len(o) >= 2 && !sellsOneValue(o) {
			varied = append(varied, i)
		}
	}
	chi2, dof, err := baseline.PoissonDispersion(p.Subset(varied))
	return err == nil && dof >= underDispersionDays && distuv.ChiSquared{K: dof}.CDF(chi2) < underDispersionLevel
}

// underDispersionDays is the fewest degrees of freedom underDispersed
// reads: the products of two days that do not repeat are fewer than
// twoDaysMinPairs at K = 100 (86 to 89 of normal days of level 15, sd
// 2.25, whose chi-squared stood at 0.4 to 0.5 of its degrees of freedom).
const underDispersionDays = 30

// underDispersionLevel is the lower-tail probability below which
// underDispersed rejects Poisson days: reading counts as continuous costs
// the count rules' exact split, so the level is strict.
const underDispersionLevel = 0.001

// continuousDaysShow reports whether p's days look like continuous
// demand recorded in whole units rather than negative binomial counts
// (baseline.WholeUnitsLogRatios above continuousDaysMinLogRatio):
// log-normal days, or where high (the median positive day above
// countLevel, where a normal day's unit is a small part of its spread),
// normal days, or days of two modes (twoDaysLogNormal), which neither
// count model has. It judges the products that sold at all, up to
// continuousDaysInstances of them (a sample by their IDs), and only where
// p has as many as twoDaysMinPairs repeat days to show the days' spread
// and shape. Never-sellers had made eb-negbinomial's prior of log means
// refuse to fit (its spread beyond their range), and so the ratios. The
// log-normal reading stands aside where never-sellers show
// (zeroInflationShows: intermittent counts had read as log-normal, the
// package comment), the normal one, at high levels only, does not:
// normal days whose low products round to 0 on both days show
// never-sellers too. Measured on `ptft suite --outside --whole-units`,
// K = 100 / 1,000, before -> now (unrounded): normal n = 2, spread 0.3,
// cv 0.5, rho 0.9: 88.92 / 12.82 -> 10.28 / 10.29 (10.28 / 10.29);
// two-mode days, spread 0.2, n = 2: 19.17 / 13.60 -> 9.30 / 7.42 (9.33 /
// 7.42). Scratch, normal days of level 100, spread 0.3, cv 0.5, 20%
// never selling, n = 2, days rounded, three portfolios: 88.88 / 21.10 ->
// 26.35 / 17.10 (26.35 / 16.90).
func continuousDaysShow(p *data.Portfolio, high bool) bool {
	if repeatDays(p) < twoDaysMinPairs {
		return false
	}
	sample := soldSample(p, soldInstances(p))
	if high {
		if _, modes := twoDaysLogNormal(sample); modes {
			return true
		}
	}
	r, err := baseline.WholeUnitsLogRatios(sample)
	if err != nil {
		return false
	}
	return high && r.Normal > continuousDaysMinLogRatio || r.LogNormal > continuousDaysMinLogRatio && !zeroInflationShows(p)
}

// soldInstances are the indices of p's products that sold on some day.
func soldInstances(p *data.Portfolio) []int {
	var sold []int
	for i, o := range p.Obs {
		if slices.Max(o) > 0 {
			sold = append(sold, i)
		}
	}
	return sold
}

// soldSample is the products of p that sold (sold, soldInstances(p)), up
// to continuousDaysInstances of them (a sample by their IDs): what the
// checks of how the days of sellers vary judge (continuousDaysShow,
// neverSellersSplit).
func soldSample(p *data.Portfolio, sold []int) *data.Portfolio {
	sample := p
	if len(sold) < p.Len() {
		sample = p.Subset(sold)
	}
	if sample.Len() > continuousDaysInstances {
		sample = sample.Subset(sampledInstances(sample, continuousDaysInstances, selectionSalt))
	}
	return sample
}

// continuousDaysMinLogRatio is strong evidence on Kass and Raftery's
// scale, as logNormalMeansMinLogRatio.
const continuousDaysMinLogRatio = 3

// continuousDaysInstances bounds the products WholeUnitsLogRatios fits
// (three marginal likelihoods of three parameters, two on a grid).
const continuousDaysInstances = 1000
