package model

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

// Constant products. A product that sells exactly the same positive
// amount every day is, where a portfolio holds more such products than
// chance explains, one of a share that sells that amount every day (the
// pretraining prior's constant products), and its Bayes order is that
// amount. The head learned this on continuous data (results/suite.md:
// the largest deviation 0.00%), but not on counts, and the classical
// rules the selection may pick never do: on gamma-Poisson and negative
// binomial counts with 10% constant products (K = 100 / 1,000) their
// orders lay up to 40% and 350% from the constant. Decide orders the
// constant wherever constantProductsShow (decideApart, constantSplit),
// whatever rule decides the others.
//
// The other products are then decided as a portfolio of their own
// (decideApart): constant products, which sell without
// spread, pull every pooled estimate of the within-product spread down:
// the rule picked, and the head's decisions, with them in view order
// the others worse. On the outside family of 30% constant products (normal, n = 5,
// 5 seeds, base seed 1) deciding the others apart took the default
// model's relative regret from 10.48% to 9.74% at K = 100 and from
// 10.92% to 8.69% at K = 1,000, Bayes-optimal's being 9.74% and 8.68%.
// Against the rule picked on the whole portfolio with the constants
// reset, on three portfolios each with 10% constant products (scratch,
// K = 100 / 1,000), it was never worse: gamma-Poisson means 3 and 20 and
// negative binomial mean 20 by 0.0 to 0.3 points better, log-normal
// (spread 1, cv 1.2) 13.12 / 11.90% -> 11.71 / 10.67%, and wide
// normal-normal with 20% constant products 10.06 / 9.93% -> 9.14 /
// 9.31%.

// constantValue is the value every observation of o takes, where o has
// minEvidenceObs or more observations, all one positive value; ok is
// false otherwise. Two equal observations are not enough: where days are
// resampled with replacement (E6's Rossmann stores, N ~ Poisson(10)),
// two draws of one day repeat its sales, and ordering them moved E6's
// N ~ Poisson(10), K = 1,115 transformer cell from 13.84% to 13.78%.
func constantValue(o []float64) (v float64, ok bool) {
	if len(o) < minEvidenceObs || !sellsOneValue(o) {
		return 0, false
	}
	return o[0], true
}

// sellsOneValue reports whether every day of o is one positive value.
func sellsOneValue(o []float64) bool {
	return len(o) > 0 && o[0] > 0 && !slices.ContainsFunc(o, func(x float64) bool { return x != o[0] })
}

// constantProductsShow reports whether p holds more constant instances
// (constantValue; on counts, instances of two equal positive days too,
// repeatedPairs) than chance explains: as many as a Poisson count of
// mean E reaches with probability below constantLevel, E the expected
// number, where p is counts (allCounts), were each instance's days Poisson
// around its own mean (the sum over instances of the probability that
// its n_k draws repeat one positive value). Continuous observations do
// not repeat by chance, so there one constant instance shows.
// Over-dispersed days repeat less often than Poisson ones, so E errs
// towards not showing. On the suite's gamma-Poisson portfolios of mean
// 3, n = 10, K = 1,000, one product of mean 0.94 sold 1 on all ten days
// (E about 0.07): E + 3 sqrt(E), the first bound tried, let it show.
func constantProductsShow(p *data.Portfolio) bool {
	observed := 0.0
	for _, o := range p.Obs {
		if _, ok := constantValue(o); ok {
			observed++
		}
	}
	// Most portfolios have no constant product: E, a sum over the
	// instances of up to 25 sqrt(mean) Poisson terms each, is only
	// needed where one shows.
	counts := allCounts(p)
	if observed == 0 && !counts {
		return wholeSellersShow(p)
	}
	if !counts {
		return true
	}
	pairs, pairsExpected := repeatedPairs(p)
	if observed+pairs == 0 {
		return false
	}
	observed += pairs
	expected := pairsExpected
	for _, o := range p.Obs {
		if len(o) >= minEvidenceObs {
			expected += repeatProbability(o)
		}
	}
	if expected == 0 {
		return true
	}
	return distuv.Poisson{Lambda: expected}.Survival(observed-1) < constantLevel
}

// constantLevel is the chance, under the repeats' Poisson count, of as
// many constant instances as constantProductsShow needs.
const constantLevel = 1e-3

// repeatProbability is the probability that len(o) Poisson draws of o's
// mean all take one positive value: sum over x >= 1 of P(x)^n.
func repeatProbability(o []float64) float64 {
	m := 0.0
	for _, x := range o {
		m += x
	}
	m /= float64(len(o))
	if m == 0 {
		return 0
	}
	pois := distuv.Poisson{Lambda: m}
	n := float64(len(o))
	sum := 0.0
	// Beyond 12 standard deviations (and 12) of the mean P(x)^n is nil.
	for x := max(1, math.Floor(m-12*math.Sqrt(m)-12)); x <= m+12*math.Sqrt(m)+12; x++ {
		sum += math.Exp(n * pois.LogProb(x))
	}
	return sum
}

// constantSplit is the apartSplit of p's constant products (decideApart):
// where they show (constantProductsShow), each orders its constant and
// the others are decided as a portfolio of their own; ok is false where
// they do not show. There, on data that are
// not counts, an instance of two equal positive observations is
// constant too: continuous demand does not repeat a value, and the
// portfolio is known to hold constant products. Without it such products
// went to the head, which learned them in portfolios of two days alone
// (results/suite.md's style of constants, 0.00%) but not among products
// of three days or more: normal-normal, n_k 1-4, 10% constant products
// (scratch, K = 1,000), they were ordered up to 75% from their constant.
// On counts two days repeat by chance (Poisson(20): one product in 16),
// so there only constantValue's days count.
func constantSplit(p *data.Portfolio) (others []int, constant []float64, ok bool) {
	if !constantProductsShow(p) {
		return nil, nil, false
	}
	continuous := !allCounts(p)
	single := continuous && (wholeNumbersTell(p) || wholeSellersShow(p))
	pairsConstant := continuous
	if !continuous {
		pairs := repeatedPairCount(p)
		pairsConstant = pairs > 0 && min(chancePairs(p), nearRepeats(p)) <= maxChancePairs*pairs
	}
	constant = make([]float64, p.Len())
	for k, o := range p.Obs {
		v, isConstant := constantValue(o)
		switch {
		case isConstant:
		case pairsConstant && isRepeatedPair(o):
			v, isConstant = o[0], true
		case single && len(o) == 1 && o[0] > 0 && baseline.IsCount(o[0]):
			v, isConstant = o[0], true
		}
		if isConstant {
			constant[k] = v
		} else {
			others = append(others, k)
		}
	}
	if len(others) == p.Len() {
		// Shown by repeats too many of which chance explains
		// (maxChancePairs): none is taken for constant.
		return nil, nil, false
	}
	return others, constant, true
}

// wholeNumbersTell reports whether, on p's data (not counts, constant
// products shown), a product seen once whose observation is a whole
// number is constant: every constant product of two or more days sells
// a whole number, and the other products' observations are whole
// numbers by chance at most once in maxChanceWholes (with at least
// minVaryingObs of them to tell). Where demand is continuous and the
// constant products sell whole units, a whole number is their mark;
// where observations are rounded (to cents, say) or the constants are
// not whole, it is no mark. Scratch, normal-normal, n_k 1-4, 10%
// constant products of whole units: the one-day constants were ordered
// up to 25% (K = 100) and 76% (K = 1,000) from their constant.
func wholeNumbersTell(p *data.Portfolio) bool {
	whole, varying := 0, 0
	for _, o := range p.Obs {
		if len(o) < 2 {
			continue
		}
		if sellsOneValue(o) {
			if !baseline.IsCount(o[0]) {
				return false
			}
			continue
		}
		for _, x := range o {
			varying++
			if baseline.IsCount(x) {
				whole++
			}
		}
	}
	return varying >= minVaryingObs && float64(whole)*maxChanceWholes <= float64(varying)
}

// maxChanceWholes and minVaryingObs are wholeNumbersTell's bounds.
const (
	maxChanceWholes = 1000
	minVaryingObs   = 100
)

// wholeSellersShow reports whether p's data, not counts, hold products
// that sell one positive whole number on every day they are seen more
// often than chance explains, where too few products have the days to
// show it (constantValue): at least minWholeSellers of them, and a
// wholeSellerShare of the instances, among at least minFineObs
// observations that are fractions and none on a grid as coarse as
// wholeGrid (where observations are rounded, to cents say, a whole
// number is no mark). Continuous demand, recorded as measured, takes a
// whole value by no chance. Scratch, normal-normal level 1,854, n = 1,
// 12% constant products of whole units, rho 0.8, three portfolios: the
// constant products were shrunk with the others, 167.59% (K = 100) and
// 144.96% (K = 1,000) against SAA's 84.87 and 100.14 and Bayes' 40.85
// and 39.70.
func wholeSellersShow(p *data.Portfolio) bool {
	sellers, fine := 0, 0
	for _, o := range p.Obs {
		if sellsOneValue(o) && baseline.IsCount(o[0]) {
			sellers++
			continue
		}
		for _, x := range o {
			switch {
			case baseline.IsCount(x):
			case onWholeGrid(x):
				return false
			default:
				fine++
			}
		}
	}
	return fine >= minFineObs && sellers >= minWholeSellers && float64(sellers) >= wholeSellerShare*float64(p.Len())
}

// onWholeGrid reports whether x is a multiple of wholeGrid, as far as
// its float64 shows (to a millionth of the grid).
func onWholeGrid(x float64) bool {
	v := x / wholeGrid
	return math.Abs(v-math.Round(v)) < 1e-6*max(1, math.Abs(v)*1e-9)
}

// wholeSellersShow's bounds.
const (
	minFineObs       = 50
	minWholeSellers  = 2
	wholeSellerShare = 0.01
	wholeGrid        = 1e-4
)

// repeatedPairs is, on counts, how many instances of two days sold one
// positive value on both, and how many would by chance were each
// instance's days Poisson around its own mean (repeatProbability; not
// summed where none repeats).
func repeatedPairs(p *data.Portfolio) (observed, expected float64) {
	if observed = repeatedPairCount(p); observed == 0 {
		return 0, 0
	}
	for _, o := range p.Obs {
		if len(o) == 2 {
			expected += repeatProbability(o)
		}
	}
	return observed, expected
}

// repeatedPairCount is how many of p's instances of two days sold one
// positive value on both (isRepeatedPair).
func repeatedPairCount(p *data.Portfolio) float64 {
	n := 0.0
	for _, o := range p.Obs {
		if isRepeatedPair(o) {
			n++
		}
	}
	return n
}

// isRepeatedPair reports whether o is two days of one positive value.
func isRepeatedPair(o []float64) bool { return len(o) == 2 && sellsOneValue(o) }

// chancePairs estimates how many of p's instances of two days that are
// not constant repeat a positive value by chance, were their days
// Poisson around their own means: the sum of repeatProbability r over
// the pairs that do not repeat, each weighed 1/(1 - r), which a constant
// product, repeating always, never enters (the sum over every pair
// counted the constant products' chances too: 34.9 where 21 repeated by
// chance, Poisson days of gamma means of level 100, 30% constant).
func chancePairs(p *data.Portfolio) float64 {
	chance := 0.0
	for _, o := range p.Obs {
		if len(o) == 2 && !isRepeatedPair(o) {
			if r := repeatProbability(o); r < 1 {
				chance += r / (1 - r)
			}
		}
	}
	return chance
}

// nearRepeats is how many instances of two days sold amounts one apart:
// more than repeat one value by chance, wherever the days' distribution
// is wider than Poisson days of mean 1 (P(|x1 - x2| = 1) against
// P(x1 = x2 > 0): 0.43 against 0.17 there, about twice the other for
// wide days). Unlike repeatProbability it holds for over-dispersed days,
// which repeat less often than Poisson ones of their mean, and constant
// products never make it.
func nearRepeats(p *data.Portfolio) float64 { return pairsApart(p, 1) }

// pairsApart is how many instances of two days sold amounts 1 to within
// units apart.
func pairsApart(p *data.Portfolio, within float64) float64 {
	near := 0.0
	for _, o := range p.Obs {
		if len(o) != 2 {
			continue
		}
		if d := math.Abs(o[0] - o[1]); d >= 1 && d <= within {
			near++
		}
	}
	return near
}

// maxChancePairs is the largest share of a portfolio's repeated pairs of
// counts (repeatedPairs) that chance may explain where constantSplit
// takes them for constant products. Two days repeat by chance (Poisson
// 20: one product in 16), so a repeated pair is a constant product only
// where far more pairs repeat than chance gives; over-dispersed days
// repeat less often than Poisson ones, so chance is the lower of their
// count and nearRepeats, which errs high too. Scratch,
// negative binomial counts of level 116, cv 1.35, n = 2, rho 0.99, 30%
// constant products, three portfolios: the constant products had been
// ordered with the others, 95.73% (K = 100) and 83.30% (K = 1,000)
// against eb-negbinomial's 89.53 and 78.11; apart, 79.44 and 49.17.
const maxChancePairs = 0.1
