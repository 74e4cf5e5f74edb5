package model

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
)

// twoLevels is a portfolio of k products in turn selling Poisson counts
// of mean 2-8 and about 10^6 ± 20% a day, n observations each.
func twoLevels(seed uint64, k, n int) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 5))
	p := &data.Portfolio{Source: "two levels"}
	for i := range k {
		o := make([]float64, n)
		lambda, mu := 2+6*rng.Float64(), 1e6*(1+0.2*rng.NormFloat64())
		for j := range o {
			if i%2 == 0 {
				o[j] = dist.Poisson{Lambda: lambda}.Rand(rng)
			} else {
				o[j] = max(0, mu*(1+0.2*rng.NormFloat64()))
			}
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.9)
	}
	return p
}

func TestScaleGroupsSeparateTwoSalesLevels(t *testing.T) {
	p := twoLevels(1, 40, 5)
	var even, odd []int
	for i := range 40 {
		if i%2 == 0 {
			even = append(even, i)
		} else {
			odd = append(odd, i)
		}
	}
	if g := ScaleGroups(p); len(g) != 2 || !slices.Equal(g[0], even) || !slices.Equal(g[1], odd) {
		t.Fatalf("groups %v, want the small sellers %v, then the large %v", g, even, odd)
	}
	// The groups do not depend on the data's unit.
	scaled := p.Subset(append(even, odd...))
	for i, o := range scaled.Obs {
		scaled.Obs[i] = make([]float64, len(o))
		for j, x := range o {
			scaled.Obs[i][j] = x * 1e-4
		}
	}
	if g := ScaleGroups(scaled); len(g) != 2 || len(g[0]) != 20 || g[1][0] != 20 {
		t.Fatalf("in other units: groups %v", g)
	}
}

func TestScaleGroupsPlaceProductsThatCannotShowTheirLevel(t *testing.T) {
	p := twoLevels(2, 20, 5)
	add := func(o ...float64) int {
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(p.Len())), append(p.Obs, o), append(p.Ratios, 0.9)
		return p.Len() - 1
	}
	never := add(0, 0, 0, 0, 0)
	rareLarge := add(0, 0, 0, 4e5, 5e5) // median 0, its sales at the upper level
	onceSmall := add(2)                 // one observation, ranked with the small sellers
	onceLarge := add(9e5)
	g := ScaleGroups(p)
	if len(g) != 2 {
		t.Fatalf("%d groups, want 2", len(g))
	}
	for _, c := range []struct {
		i, group int
	}{{never, 0}, {rareLarge, 1}, {onceSmall, 0}, {onceLarge, 1}} {
		if !slices.Contains(g[c.group], c.i) {
			t.Errorf("%v: not in group %d (groups %v)", p.Obs[c.i], c.group, g)
		}
	}
}

// Products seen on one day each split into two levels when each level
// holds enough of them; one product seen once at 0.001 among
// products selling about 120 does not make a group.
func TestScaleGroupsOfSingleObservations(t *testing.T) {
	p := twoLevels(7, 100, 1)
	if g := ScaleGroups(p); len(g) != 2 || len(g[0]) != 50 || g[0][1] != 2 || g[1][0] != 1 {
		t.Fatalf("two levels seen once: groups %v", g)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	q := &data.Portfolio{Source: "one low day"}
	for i := range 200 {
		x := max(0, 120*(1+0.5*rng.NormFloat64()))
		if i == 0 {
			x = 0.001
		}
		q.IDs, q.Obs, q.Ratios = append(q.IDs, strconv.Itoa(i)), append(q.Obs, []float64{x}), append(q.Ratios, 0.8)
	}
	if g := ScaleGroups(q); g != nil {
		t.Fatalf("one low day split the portfolio into groups of %d and %d", len(g[0]), len(g[1]))
	}
}

func TestScaleGroupsKeepOrdinaryPortfoliosWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	// Lognormal product levels spread over three orders of magnitude, a
	// few products that never sell and some that sell on few days.
	p := &data.Portfolio{Source: "ordinary"}
	for i := range 500 {
		o := make([]float64, 5)
		level := 100 * dist.LogNormalMeanCV(1, 1.5).Rand(rng)
		for j := range o {
			switch {
			case i%25 == 0:
			case i%7 == 0 && rng.Float64() < 0.7:
			default:
				o[j] = level * dist.LogNormalMeanCV(1, 0.5).Rand(rng)
			}
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.8)
	}
	if g := ScaleGroups(p); g != nil {
		t.Fatalf("an ordinary portfolio split into %d groups of %v...", len(g), len(g[0]))
	}
	// One gross error among the small sellers of a two-level portfolio
	// leaves it whole: a large observation can only prevent a split.
	q := twoLevels(4, 20, 5)
	q.Obs[0] = []float64{3, 4, 2, 5e5, 3}
	if g := ScaleGroups(q); g != nil {
		t.Fatalf("a gross error among the small sellers: %d groups", len(g))
	}
}

// Decide decides each scale group as a portfolio of its own: the same
// decisions, exactly, as deciding the groups apart, with the rule
// selection and without, streamed and whole.
func TestDecideDecidesEachScaleGroupAlone(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Experts, cfg.Inducing = true, 4
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	p := twoLevels(5, 30, 5)
	groups := ScaleGroups(p)
	if len(groups) != 2 {
		t.Fatalf("%d groups", len(groups))
	}
	for _, full := range []bool{false, true} {
		m.FullStrength = full
		for name, decide := range map[string]func(*data.Portfolio) ([]float64, error){"Decide": m.Decide, "DecideWhole": m.DecideWhole} {
			q, err := decide(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, idx := range groups {
				want, err := decide(p.Subset(idx))
				if err != nil {
					t.Fatal(err)
				}
				for j, i := range idx {
					if q[i] != want[j] {
						t.Fatalf("%s (full strength %v): instance %d: %v, alone with its group %v", name, full, i, q[i], want[j])
					}
				}
			}
		}
	}
}
