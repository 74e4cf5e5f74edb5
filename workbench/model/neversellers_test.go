package model

import (
	"math"
	"slices"
	"testing"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// withNeverSellers is p with the first share of every 100 products
// never selling.
func withNeverSellers(p *data.Portfolio, share int) *data.Portfolio {
	for i := range p.Obs {
		if i%100 < share {
			clear(p.Obs[i])
		}
	}
	return p
}

// Negative binomial counts with never-sellers: the never-sellers get
// eb-zi-gamma-poisson's orders, and the products that sold the orders of
// a portfolio of their own. Gamma-Poisson counts with never-sellers
// (Poisson days: the suite's intermittent family) are not split.
func TestNeverSellersOfOverDispersedCountsAreApart(t *testing.T) {
	m := strongHead(t)
	for seed := uint64(1); seed <= 2; seed++ {
		for _, k := range []int{100, 1000} {
			p := withNeverSellers(portfolioOf(t, prior.Managerial, []string{"negbinomial"}, 20, 0.6, 1, k, 5, seed), 40)
			others, _, ok := neverSellersSplit(p)
			if !ok {
				t.Fatalf("seed %d, K = %d: negative binomial counts, 40%% never selling: not split", seed, k)
			}
			for _, i := range others {
				if slices.Max(p.Obs[i]) == 0 {
					t.Fatalf("seed %d, K = %d: never-seller %d among the others", seed, k, i)
				}
			}
			q, err := m.Decide(p)
			if err != nil {
				t.Fatal(err)
			}
			zi, err := baseline.ZeroInflatedEB{}.Decide(p)
			if err != nil {
				t.Fatal(err)
			}
			sold, err := m.Decide(p.Subset(others))
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range p.Obs {
				if !(q[i] >= 0) || math.IsInf(q[i], 0) {
					t.Fatalf("seed %d, K = %d, instance %d: order %v", seed, k, i, q[i])
				}
				if slices.Max(o) == 0 && q[i] != zi[i] {
					t.Errorf("seed %d, K = %d, never-seller %d: order %v, eb-zi-gamma-poisson's %v", seed, k, i, q[i], zi[i])
				}
			}
			for j, i := range others {
				if q[i] != sold[j] {
					t.Fatalf("seed %d, K = %d, instance %d: order %v, as a portfolio of those that sold %v", seed, k, i, q[i], sold[j])
				}
			}
			gp := withNeverSellers(portfolioOf(t, prior.GammaPoisson, nil, 3, 0.6, 0, k, 6, seed), 40)
			if _, _, ok := neverSellersSplit(gp); ok {
				t.Errorf("seed %d, K = %d: gamma-Poisson counts, 40%% never selling, split", seed, k)
			}
		}
	}
}
