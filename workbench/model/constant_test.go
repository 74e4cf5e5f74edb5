package model

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
)

// countPortfolio draws k instances of n Poisson days around gamma means
// of mean level (shape 2), a share constant of them selling their
// rounded mean every day.
func countPortfolio(k, n int, level, constant float64, seed uint64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 3))
	p := &data.Portfolio{Source: "counts"}
	for i := range k {
		rate := distuv.Gamma{Alpha: 2, Beta: 2 / level, Src: rng}.Rand()
		o := make([]float64, n)
		for j := range o {
			if rng.Float64() < constant && j == 0 {
				for j := range o {
					o[j] = max(1, float64(int(rate+0.5)))
				}
				break
			}
			o[j] = distuv.Poisson{Lambda: rate, Src: rng}.Rand()
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.8)
	}
	return p
}

// Constant products show where they outnumber the repeats chance gives
// counts: not among low Poisson counts of three days, where a tenth of
// products repeat a positive value by chance, but with a tenth of
// products constant on top; on continuous data one constant product
// shows. decideApart (constantSplit) then orders their constants and hands
// the others, alone, to the decision rule.
func TestConstantProductsShow(t *testing.T) {
	for _, c := range []struct {
		n            int
		level, share float64
		want         bool
	}{{3, 1, 0, false}, {3, 3, 0, false}, {5, 10, 0, false}, {3, 1, 0.1, true}, {5, 10, 0.1, true}, {5, 10, 0.02, true}} {
		p := countPortfolio(1000, c.n, c.level, c.share, 7)
		if got := constantProductsShow(p); got != c.want {
			t.Errorf("n %d, level %v, constant share %v: shows %v", c.n, c.level, c.share, got)
		}
	}
	p := &data.Portfolio{Source: "continuous", IDs: []string{"a", "b", "c"}, Ratios: []float64{0.9, 0.9, 0.9},
		Obs: [][]float64{{10.5, 12.25, 9}, {10, 10, 10, 10}, {0, 0, 0}}}
	if !constantProductsShow(p) {
		t.Fatal("continuous data with a constant product: does not show")
	}
	var decided []string
	rule := func(sub *data.Portfolio) ([]float64, error) {
		decided = sub.IDs
		return []float64{13, 1}, nil
	}
	q, ok, err := decideApart(p, constantSplit, rule)
	if !ok || err != nil || len(q) != 3 || q[0] != 13 || q[1] != 10 || q[2] != 1 {
		t.Errorf("orders %v (ok %v, %v), want [13 10 1]", q, ok, err)
	}
	if len(decided) != 2 || decided[0] != "a" || decided[1] != "c" {
		t.Errorf("the rule decided %v, want [a c]", decided)
	}
	if withoutApart(p, constantSplit).Len() != 2 {
		t.Error("withoutApart keeps the constant product")
	}
	all := &data.Portfolio{Source: "constant", IDs: []string{"d"}, Ratios: []float64{0.9}, Obs: [][]float64{{10.5, 10.5, 10.5}}}
	if q, ok, _ := decideApart(all, constantSplit, rule); !ok || len(q) != 1 || q[0] != 10.5 || withoutApart(all, constantSplit) != nil {
		t.Errorf("every product constant: orders %v (ok %v)", q, ok)
	}
	p.Obs[1] = []float64{10, 10, 10, 10.5}
	if constantProductsShow(p) {
		t.Error("no constant product: shows")
	}
}

// Where constant products show on continuous data, two equal days are a
// constant product too; on counts, where two days repeat by chance, and
// where no constant product of three days shows, they are not.
func TestConstantPairs(t *testing.T) {
	p := &data.Portfolio{Source: "continuous", IDs: []string{"a", "b", "c", "d"}, Ratios: []float64{0.9, 0.9, 0.9, 0.9},
		Obs: [][]float64{{10.5, 12.25, 9}, {10, 10, 10}, {7, 7}, {3.5}}}
	others, constant, ok := constantSplit(p)
	if !ok || len(others) != 2 || others[0] != 0 || others[1] != 3 || constant[1] != 10 || constant[2] != 7 {
		t.Errorf("continuous: others %v, constants %v (ok %v), want [0 3] and 10, 7", others, constant, ok)
	}
	p.Obs[1] = []float64{10, 11, 10}
	if _, _, ok := constantSplit(p); ok {
		t.Error("two equal days alone show constant products")
	}
	counts := countPortfolio(1000, 3, 3, 0.1, 7)
	counts.Obs[0], counts.Obs[1] = []float64{4, 4}, []float64{4, 5}
	others, _, ok = constantSplit(counts)
	if !ok || len(others) == 0 || others[0] != 0 || others[1] != 1 {
		t.Errorf("counts: two equal days taken for a constant product (others begin %v, ok %v)", others[:min(2, len(others))], ok)
	}
	// Counts of two days: where far more pairs repeat than chance gives
	// (level 100, 30% constant), the repeated pairs are constant; where
	// chance gives many of them (level 3), none is, and the split stands
	// down rather than hand the whole portfolio back to itself.
	high := countPortfolio(1000, 2, 100, 0.3, 7)
	others, constant, ok = constantSplit(high)
	if !ok {
		t.Fatal("counts of level 100, two days, 30% constant: no split")
	}
	for k, o := range high.Obs {
		if (o[0] == o[1]) != (constant[k] == o[0] && o[0] > 0) {
			t.Errorf("level 100: instance %d, days %v, ordered %v as constant", k, o, constant[k])
		}
	}
	t.Logf("level 100: %d of 1000 constant", 1000-len(others))
	low := countPortfolio(1000, 2, 3, 0.3, 7)
	if !constantProductsShow(low) {
		t.Error("counts of level 3, two days, 30% constant: constant products do not show")
	}
	if _, _, ok := constantSplit(low); ok {
		t.Error("counts of level 3, two days: repeated pairs taken for constant products")
	}
}

// constantProductsShow runs on every Decide: on counts with no constant
// product (Rossmann-sized: 1,115 instances of 10 days around 5,000) it
// must not sum the chance repeats.
func BenchmarkConstantProductsShow(b *testing.B) {
	p := countPortfolio(1115, 10, 5000, 0, 7)
	for b.Loop() {
		constantProductsShow(p)
	}
}

// On continuous data whose constant products sell whole units, a product
// seen once at a whole number is constant; not where the constants are
// not whole, nor where the other products' days are whole numbers too.
func TestConstantSingles(t *testing.T) {
	build := func(constant float64, round bool) *data.Portfolio {
		rng := rand.New(rand.NewPCG(4, 4))
		p := &data.Portfolio{Source: "continuous"}
		add := func(o ...float64) {
			p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(p.Len())), append(p.Obs, o), append(p.Ratios, 0.8)
		}
		for range 50 {
			o := []float64{20 + 5*rng.NormFloat64(), 20 + 5*rng.NormFloat64(), 20 + 5*rng.NormFloat64()}
			if round {
				for j := range o {
					o[j] = math.Round(o[j])
				}
			}
			add(o...)
		}
		add(constant, constant, constant)
		add(7)
		add(7.5)
		return p
	}
	k := 51 // the first one-day product; the next sold 7.5
	if others, c, ok := constantSplit(build(10, false)); !ok || c[k] != 7 || c[k+1] != 0 || len(others) != 51 {
		t.Errorf("whole constants, continuous days: one-day orders %v, %v (ok %v), want 7 and not constant", c[k], c[k+1], ok)
	}
	if _, c, ok := constantSplit(build(10.5, false)); !ok || c[k] != 0 {
		t.Errorf("constants of 10.5: the one-day product of 7 taken for constant (%v, ok %v)", c[k], ok)
	}
	if _, c, ok := constantSplit(build(10, true)); ok && c[k] != 0 {
		t.Errorf("days of whole numbers: the one-day product of 7 taken for constant (%v)", c[k])
	}
}

// Where every product is seen once, whole numbers among continuous days
// mark the constant products; not where the days are rounded to cents,
// nor where one product alone sells a whole number.
func TestConstantSinglesAlone(t *testing.T) {
	build := func(constants int, grid float64) *data.Portfolio {
		rng := rand.New(rand.NewPCG(5, 5))
		p := &data.Portfolio{Source: "continuous"}
		for i := range 200 {
			x := 300 + 80*rng.NormFloat64()
			switch {
			case i%10 == 3 && i/10 < constants:
				x = math.Round(x)
			case grid > 0:
				x = math.Round(x/grid) * grid
			}
			p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, []float64{x}), append(p.Ratios, 0.8)
		}
		return p
	}
	others, c, ok := constantSplit(build(20, 0))
	if !ok || len(others) != 180 {
		t.Fatalf("20 whole numbers among 200 continuous days: %d others (ok %v), want 180", len(others), ok)
	}
	for k := 3; k < 200; k += 10 {
		if c[k] == 0 {
			t.Errorf("product %d, seen once at a whole number, not constant", k)
		}
	}
	if _, _, ok := constantSplit(build(20, 0.01)); ok {
		t.Error("days rounded to cents: whole numbers taken for constant products")
	}
	if _, _, ok := constantSplit(build(1, 0)); ok {
		t.Error("one whole number among 200 days taken for constant products")
	}
}
