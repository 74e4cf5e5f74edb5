package model

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
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

// Among intermittent counts, where the cap can lie below a few units, a
// day of 5 beside a zero day is no gross error (its product's other
// days, all zero, say nothing of its scale: the portfolio's does), while
// a day of 50 times the portfolio's mean beside zero days is.
func TestGrossErrorsBesideZeroDays(t *testing.T) {
	p := &data.Portfolio{Source: "intermittent"}
	add := func(o ...float64) {
		p.IDs = append(p.IDs, fmt.Sprint(len(p.IDs)))
		p.Ratios = append(p.Ratios, 0.8)
		p.Obs = append(p.Obs, o)
	}
	for k := range 100 {
		switch {
		case k < 60:
			add(0, 0)
		case k < 75:
			add(1, 0)
		case k < 85:
			add(0, 1)
		case k < 95:
			add(1, 1)
		default:
			add(2, 1)
		}
	}
	p.Obs[0] = []float64{5, 0}
	if hi := grossErrorCap(p); hi >= 5 {
		t.Fatalf("cap %v: the case needs a cap below 5", hi)
	}
	if c := withoutGrossErrors(p); c != p {
		t.Errorf("a day of 5 beside a zero day left out: %v", c.Obs[0])
	}
	dirty := p.Subset(allInstances(p))
	dirty.Obs = slices.Clone(p.Obs)
	dirty.Obs[1] = []float64{0, 50 * 0.4}
	if c := withoutGrossErrors(dirty); !slices.Equal(c.Obs[1], []float64{0}) || !slices.Equal(c.Obs[0], p.Obs[0]) {
		t.Errorf("instances 0 and 1 are %v and %v, want [5 0] and [0]", c.Obs[0], c.Obs[1])
	}
}

// Among counts, a fraction 50 times the portfolio's mean is a gross error
// whatever the product's log spread, and a fraction short of one is
// rounded; so the portfolio stays counts, and Decide decides it exactly
// as the portfolio without the error and with the fraction rounded.
func TestFractionsAmongCounts(t *testing.T) {
	m := strongHead(t)
	for seed := uint64(1); seed <= 3; seed++ {
		p := gammaPoissonCounts(300, 5, 2.8, 3, seed)
		if c := withoutGrossErrors(p); c != p {
			t.Fatalf("seed %d: counts without errors changed", seed)
		}
		dirty := p.Subset(allInstances(p))
		want := p.Subset(allInstances(p))
		for k := range dirty.Obs {
			dirty.Obs[k], want.Obs[k] = slices.Clone(p.Obs[k]), slices.Clone(p.Obs[k])
		}
		// Days of about 3: the error stands only about 3.5 log units, six
		// within-product deviations, above its product's next day.
		dirty.Obs[7][2] = 50 * 3.01
		want.Obs[7] = slices.Delete(want.Obs[7], 2, 3)
		dirty.Obs[20][0] += 0.4
		if c := withoutGrossErrors(dirty); !slices.EqualFunc(c.Obs, want.Obs, slices.Equal) {
			t.Errorf("seed %d: instances 7 and 20 are %v and %v, want %v and %v", seed, c.Obs[7], c.Obs[20], want.Obs[7], want.Obs[20])
		}
		q, err := m.Decide(dirty)
		if err != nil {
			t.Fatal(err)
		}
		qw, err := m.Decide(want)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(q, qw) {
			t.Errorf("seed %d: decisions differ from those without the error", seed)
		}
	}
	// Continuous data keep their fractions.
	p := spreadNormalPortfolio(t, 0.6, 100, 3, 1)
	if c := withStrayFractionsRounded(p); c != p {
		t.Error("continuous data rounded")
	}
}

// Among products seen once, one observation of 50 times the mean is a
// lone error: it orders what a product with nothing seen would, the
// others' ratio-quantile, and the others are decided exactly as the
// portfolio without it; two among 100 are no longer lone (a group's worth,
// ScaleGroups), and log-normal products seen once (spread 1) have none.
func TestLoneErrors(t *testing.T) {
	m := strongHead(t)
	for seed := uint64(1); seed <= 3; seed++ {
		p := spreadNormalPortfolio(t, 0.2, 100, 1, seed)
		if _, _, ok := loneSplit(p); ok {
			t.Fatalf("seed %d: clean portfolio has lone errors", seed)
		}
		dirty := p.Subset(allInstances(p))
		dirty.Obs = slices.Clone(p.Obs)
		dirty.Obs[30] = []float64{50 * 200}
		others := slices.DeleteFunc(allInstances(p), func(k int) bool { return k == 30 })
		// Every other product seen once: the error's order is the
		// ceil(rho 99)-th of their 99 days.
		days := make([]float64, 0, len(others))
		for _, k := range others {
			days = append(days, p.Obs[k][0])
		}
		slices.Sort(days)
		want := days[int(math.Ceil(dirty.Ratios[30]*99))-1]
		if rest, orders, ok := loneSplit(dirty); !ok || !slices.Equal(rest, others) || orders[30] != want {
			t.Fatalf("seed %d: lone errors leave %d others (ok %v) and order %v, want all but instance 30 and %v", seed, len(rest), ok, orders[30], want)
		}
		q, err := m.Decide(dirty)
		if err != nil {
			t.Fatal(err)
		}
		qo, err := m.Decide(dirty.Subset(others))
		if err != nil {
			t.Fatal(err)
		}
		if q[30] != want || !slices.Equal(slices.Delete(slices.Clone(q), 30, 31), qo) {
			t.Errorf("seed %d: the error orders %v and the others differ from their own portfolio's", seed, q[30])
		}
		dirty.Obs[60] = []float64{50 * 200}
		if _, _, ok := loneSplit(dirty); ok {
			t.Errorf("seed %d: two errors among 100 taken for lone errors", seed)
		}
		// A day 50 times the level is a heavy tail's where another
		// product's day is within loneGapRatio of it.
		dirty.Obs[60] = []float64{19 * 200}
		if _, _, ok := loneSplit(dirty); ok {
			t.Errorf("seed %d: a day of 50 times the level beside one of 19 taken for a lone error", seed)
		}
		if _, _, ok := loneSplit(managerialPortfolio(t, "lognormal", 100, 1, 0.5, 300, 1, seed)); ok {
			t.Errorf("seed %d: log-normal products seen once: lone errors", seed)
		}
	}
}

// Among counts, a fraction far above the portfolio is an error however
// high its product's other day: 73.25 beside 5 (14.6 times, short of
// grossErrorRatio) among counts of level 3 is left out, and so is not a
// whole number of the same size, nor the fraction among continuous days,
// nor on a product seen once.
func TestFractionErrorsAmongCounts(t *testing.T) {
	p := countPortfolio(100, 2, 3, 0, 11)
	p.Obs[41] = []float64{5, 73.25}
	clean := withoutGrossErrors(p)
	if !slices.Equal(clean.Obs[41], []float64{5}) {
		t.Errorf("fraction 73.25 beside 5 among counts: kept, %v", clean.Obs[41])
	}
	p.Obs[41] = []float64{5, 73}
	if clean := withoutGrossErrors(p); !slices.Equal(clean.Obs[41], []float64{5, 73}) {
		t.Errorf("whole 73 beside 5 among counts: %v", clean.Obs[41])
	}
	p.Obs[41] = []float64{73.25}
	if clean := withoutGrossErrors(p); len(clean.Obs[41]) != 1 {
		t.Errorf("fraction on a product seen once: %v", clean.Obs[41])
	}
	cont := spreadNormalPortfolio(t, 0.2, 100, 2, 1)
	cont.Obs = slices.Clone(cont.Obs)
	cont.Obs[41] = []float64{cont.Obs[41][0], 14.6 * cont.Obs[41][0]}
	if clean := withoutGrossErrors(cont); len(clean.Obs[41]) != 2 {
		t.Errorf("continuous days: a day 14.6 times its product's other left out")
	}
}
