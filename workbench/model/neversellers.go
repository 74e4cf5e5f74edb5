package model

import (
	"slices"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

// neverSellersSplit is the apartSplit of p's never-sellers (products
// whose every day is 0) where never-sellers show (zeroInflationShows) and
// the products that sold vary from day to day beyond Poisson
// (overdispersionShows, on up to continuousDaysInstances of them):
// eb-zi-gamma-poisson, the incumbent where never-sellers show, orders the
// never-sellers, and the products that sold are decided as a portfolio
// of their own, where the negative binomial rules and the continuous
// readings apply. eb-zi-gamma-poisson had decided the whole portfolio
// with Poisson days, too narrow for negative binomial ones, and
// eb-negbinomial refuses never-sellers (its prior of log means cannot
// reach them). Gamma-Poisson counts with never-sellers (the suite's
// intermittent family) vary as Poisson days and are not split. Scratch,
// negative binomial counts with never-sellers, three portfolios, K = 100
// / 1,000, before -> now (the best classical method):
//
//	level 20, spread 0.6, cv 1, n = 5, 40% never, rho 0.8:   15.21 / 11.20 -> 8.61 / 8.51 (eb-censored 9.86 / 11.37)
//	level 10, cv 0.8, n = 6, 40% never, rho 0.6:              9.61 / 7.99 -> 6.36 / 5.71 (eb-zi-gamma-poisson 9.56 / 8.31)
//	level 5, cv 1, n = 4, 60% never, rho 0.8:                16.42 / 15.20 -> 12.14 / 10.56 (eb-censored 15.19 / 14.72)
//	level 50, spread 0.5, cv 0.5, n = 2, 30% never, rho 0.9: 70.26 / 59.04 -> 27.22 / 23.84 (eb-censored 33.26, npmle-log 32.83)
//	level 100, cv 0.8, n = 3, 40% never, rho 0.8:            21.72 / 22.47 -> 16.32 / 14.56 (eb-censored 16.52 / 16.26)
//	level 3, cv 1, n = 10, 20% never, rho 0.7:                3.32 / 4.71 -> 3.58 / 4.15 (eb-zi-gamma-poisson 3.32 / 4.71)
//
// and ptft suite and --outside print the same regrets.
func neverSellersSplit(p *data.Portfolio) (others []int, orders []float64, ok bool) {
	if p.Support != nil || !allCounts(p) {
		return nil, nil, false
	}
	others = soldInstances(p)
	if len(others) == p.Len() || len(others) < neverSellersMinSold || !zeroInflationShows(p) {
		return nil, nil, false
	}
	if !overdispersionShows(soldSample(p, others)) {
		return nil, nil, false
	}
	q, err := baseline.ZeroInflatedEB{}.Decide(p)
	if err != nil {
		return nil, nil, false
	}
	orders = make([]float64, p.Len())
	for k, o := range p.Obs {
		if slices.Max(o) == 0 {
			orders[k] = q[k]
		}
	}
	return others, orders, true
}

// neverSellersMinSold is the fewest products that sold for which
// neverSellersSplit sets the never-sellers apart.
const neverSellersMinSold = 20
