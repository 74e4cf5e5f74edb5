package model

import (
	"slices"
	"testing"
)

// withoutGrossErrors leaves out exactly the observations set to 50 times
// the portfolio's mean, and nothing of heavy-tailed portfolios without
// errors.
func TestWithoutGrossErrors(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		p := spreadNormalPortfolio(t, 0.6, 100, 3, seed)
		if c := withoutGrossErrors(p); c != p {
			t.Errorf("seed %d: clean normal portfolio changed", seed)
		}
		dirty := p.Subset(allInstances(p))
		for k := range dirty.Obs {
			dirty.Obs[k] = slices.Clone(dirty.Obs[k])
		}
		hit := []int{3, 40, 41}
		for i, k := range hit {
			dirty.Obs[k][i%3] = 50 * 200
		}
		c := withoutGrossErrors(dirty)
		for k, o := range c.Obs {
			want := p.Obs[k]
			if slices.Contains(hit, k) {
				want = slices.Delete(slices.Clone(p.Obs[k]), slices.Index(hit, k)%3, slices.Index(hit, k)%3+1)
			}
			if !slices.Equal(o, want) {
				t.Errorf("seed %d, instance %d: %v, want %v", seed, k, o, want)
			}
		}
		heavy := managerialPortfolio(t, "lognormal", 100, 1, 2, 300, 3, seed)
		if c := withoutGrossErrors(heavy); c != heavy {
			t.Errorf("seed %d: log-normal cv 2 portfolio changed", seed)
		}
	}
}
