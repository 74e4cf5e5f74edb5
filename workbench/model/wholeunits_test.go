package model

import (
	"math"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// inWholeUnits is p with every day rounded to a whole number (negative
// days to 0) and its positive days moved by shift.
func inWholeUnits(p *data.Portfolio, shift float64) *data.Portfolio {
	c := *p
	c.Obs = make([][]float64, len(p.Obs))
	for i, o := range p.Obs {
		c.Obs[i] = make([]float64, len(o))
		for j, x := range o {
			if c.Obs[i][j] = math.Max(0, math.Round(x)); c.Obs[i][j] > 0 {
				c.Obs[i][j] += shift
			}
		}
	}
	return &c
}

func isCountRule(r Rule) bool {
	return r.Expert == expertGammaPoisson || r.Expert == expertNPMLEPoisson || isNegBinomialRule(r) || isZeroInflatedRule(r)
}

// Normal demand recorded in whole units is decided as continuous demand:
// the same decisions as the same positive days a millionth of a unit off
// whole numbers, and never by a count rule.
func TestWholeUnitsOfNormalDemandAreDecidedAsContinuous(t *testing.T) {
	m := strongHead(t)
	for seed := uint64(1); seed <= 3; seed++ {
		for _, n := range []int{3, 5, 10} {
			p := portfolioOf(t, prior.NormalNormal, nil, 200, 0.3, 0.2, 200, n, seed)
			whole := inWholeUnits(p, 0)
			if _, ok := asContinuous(whole); !ok {
				slope, se, _ := wholeUnitsSlope(whole)
				t.Fatalf("seed %d, n = %d: normal days in whole units read as counts (slope %.3f, se %.3f)", seed, n, slope, se)
			}
			q, err := m.Decide(whole)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.Decide(inWholeUnits(p, 1e-6))
			if err != nil {
				t.Fatal(err)
			}
			for i := range q {
				if math.Abs(q[i]-want[i]) > 1e-4*math.Max(1, want[i]) {
					t.Fatalf("seed %d, n = %d, instance %d: %v in whole units, %v off them", seed, n, i, q[i], want[i])
				}
			}
			r, err := m.SelectRule(whole)
			if err != nil {
				t.Fatal(err)
			}
			if isCountRule(r) {
				t.Errorf("seed %d, n = %d: count rule %v on normal days in whole units", seed, n, r)
			}
		}
	}
}

// Counts stay counts: negative binomial days (whose spread grows faster
// than a Poisson's), low counts, products seen once and binned data.
func TestAsContinuousKeepsCounts(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for _, level := range []float64{50, 200, 5000} {
			p := portfolioOf(t, prior.Managerial, []string{"negbinomial"}, level, 0.5, 0.5, 200, 3, seed)
			if _, ok := asContinuous(p); ok {
				slope, se, _ := wholeUnitsSlope(p)
				t.Errorf("seed %d: negative binomial counts of level %v read as continuous (slope %.3f, se %.3f)", seed, level, slope, se)
			}
		}
		low := inWholeUnits(portfolioOf(t, prior.NormalNormal, nil, 10, 0.3, 0.2, 200, 5, seed), 0)
		if _, ok := asContinuous(low); ok {
			t.Errorf("seed %d: whole units around 10 read as continuous", seed)
		}
		once := inWholeUnits(portfolioOf(t, prior.NormalNormal, nil, 200, 0.3, 0.2, 200, 1, seed), 0)
		if _, ok := asContinuous(once); ok {
			t.Errorf("seed %d: days seen once read as continuous", seed)
		}
		binned := inWholeUnits(portfolioOf(t, prior.NormalNormal, nil, 200, 0.3, 0.2, 200, 5, seed), 0)
		binned.Support = make([][]float64, binned.Len())
		if _, ok := asContinuous(binned); ok {
			t.Errorf("seed %d: binned data read as continuous", seed)
		}
	}
}

func TestWholeUnitsSlopeRecoversAPowerLaw(t *testing.T) {
	p := &data.Portfolio{}
	for i := range 100 {
		m := 50 + 10*float64(i)
		d := math.Pow(m, 0.3)
		p.IDs, p.Obs, p.Ratios = append(p.IDs, "x"), append(p.Obs, []float64{m - d, m + d}), append(p.Ratios, 0.9)
	}
	slope, se, ok := wholeUnitsSlope(p)
	// The log means' noise, (d/m)^2 each, is small beside their spread:
	// the reliability moves the slope by less than 0.001.
	if !ok || math.Abs(slope-0.3) > 1e-3 || se > 1e-9 {
		t.Errorf("slope %v, se %v, ok %v; want 0.3, 0, true", slope, se, ok)
	}
	p.Obs = p.Obs[:twoDaysMinPairs-1]
	if _, _, ok := wholeUnitsSlope(p); ok {
		t.Errorf("%d products: ok, want too few", len(p.Obs))
	}
}
