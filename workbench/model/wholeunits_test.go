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

// Normal and log-normal demand recorded in whole units, and normal days
// seen once, are decided as continuous demand: the same decisions as the
// same positive days a millionth of a unit off whole numbers, and never
// by a count rule.
func TestWholeUnitsOfContinuousDemandAreDecidedAsContinuous(t *testing.T) {
	m := strongHead(t)
	for seed := uint64(1); seed <= 3; seed++ {
		for _, c := range []struct {
			kind     string
			families []string
			level    float64
			spread   float64
			cv       float64
			n        int
		}{
			{prior.NormalNormal, nil, 200, 0.3, 0.2, 3},
			{prior.NormalNormal, nil, 200, 0.3, 0.2, 5},
			{prior.NormalNormal, nil, 200, 0.3, 0.2, 10},
			{prior.Managerial, []string{"lognormal"}, 100, 1, 1.2, 5},
			{prior.Managerial, []string{"lognormal"}, 200, 0.8, 0.8, 4},
			{prior.Managerial, []string{"lognormal"}, 10, 1.1, 1.3, 3},
			{prior.NormalNormal, nil, 200, 0.3, 0.2, 1},
		} {
			n := c.n
			p := portfolioOf(t, c.kind, c.families, c.level, c.spread, c.cv, 200, n, seed)
			whole := inWholeUnits(p, 0)
			if _, ok := asContinuous(whole); !ok {
				slope, se, _ := wholeUnitsSlope(whole)
				t.Fatalf("seed %d, %s %v level %v, n = %d: days in whole units read as counts (slope %.3f, se %.3f)", seed, c.kind, c.families, c.level, n, slope, se)
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
					t.Fatalf("seed %d, %s %v, n = %d, instance %d: %v in whole units, %v off them", seed, c.kind, c.families, n, i, q[i], want[i])
				}
			}
			r, err := m.SelectRule(whole)
			if err != nil {
				t.Fatal(err)
			}
			if isCountRule(r) {
				t.Errorf("seed %d, %s %v, n = %d: count rule %v on days in whole units", seed, c.kind, c.families, n, r)
			}
		}
	}
}

// Where the slope of spread on level has little power (100 products of
// two days), the likelihood of normal days reads whole units as
// continuous demand.
func TestWholeUnitsOfFewNormalDaysAreContinuous(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		whole := inWholeUnits(portfolioOf(t, prior.NormalNormal, nil, 200, 0.2, 0.2, 100, 2, seed), 0)
		if _, ok := asContinuous(whole); !ok {
			slope, se, _ := wholeUnitsSlope(whole)
			t.Errorf("seed %d: read as counts (slope %.3f, se %.3f)", seed, slope, se)
		}
	}
}

// Two days of normal demand in whole units that repeat by chance do not
// stop the two-day rules (the rule is that of the same days with the
// repeats a millionth apart), and those of constant products, beyond
// chance, stay repeats.
func TestWholeUnitsRepeatByChance(t *testing.T) {
	m := strongHead(t)
	for seed := uint64(1); seed <= 2; seed++ {
		whole := inWholeUnits(portfolioOf(t, prior.NormalNormal, nil, 200, 0.2, 0.2, 1000, 2, seed), 0)
		apart := inWholeUnits(whole, 0)
		repeats := 0
		for _, o := range apart.Obs {
			if isRepeatedPair(o) {
				o[1] += 1e-6
				repeats++
			}
		}
		if repeats == 0 {
			t.Fatalf("seed %d: no two days repeat", seed)
		}
		got, err := m.SelectRule(whole)
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.SelectRule(apart)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || got == fullRule {
			t.Errorf("seed %d, %d repeats: rule %v, with the repeats apart %v", seed, repeats, got, want)
		}
		constant := inWholeUnits(whole, 0)
		for i := 0; i < constant.Len(); i += 10 {
			constant.Obs[i][1] = constant.Obs[i][0]
		}
		c, ok := asContinuous(constant)
		if !ok {
			t.Fatalf("seed %d: 10%% constant products: read as counts", seed)
		}
		for i := 0; i < c.Len(); i += 10 {
			if !isRepeatedPair(c.Obs[i]) {
				t.Fatalf("seed %d, 10%% constant products: instance %d's days %v no longer repeat", seed, i, c.Obs[i])
			}
		}
	}
}

// Counts stay counts: negative binomial days (whose spread grows faster
// than a Poisson's, in proportion to the level beyond it, as log-normal
// days' does) and gamma days in whole units, low counts (gamma-Poisson,
// negative binomial, normal days around 10; seen once too; 40-58%
// never selling) and binned data.
func TestAsContinuousKeepsCounts(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for _, level := range []float64{50, 200, 5000} {
			p := portfolioOf(t, prior.Managerial, []string{"negbinomial"}, level, 0.5, 0.5, 200, 3, seed)
			if _, ok := asContinuous(p); ok {
				slope, se, _ := wholeUnitsSlope(p)
				t.Errorf("seed %d: negative binomial counts of level %v read as continuous (slope %.3f, se %.3f)", seed, level, slope, se)
			}
		}
		// Seed 1 of these (K = 100, 40% and 58% never selling) and of
		// K = 1,000, spread 0.3, 58%, favoured rounded log-normal days.
		for _, c := range []struct {
			k      int
			spread float64
			never  int
		}{{100, 0.3, 40}, {100, 0.5, 58}, {1000, 0.3, 58}} {
			intermittent := portfolioOf(t, prior.GammaPoisson, nil, 2, c.spread, 1, c.k, 4, seed)
			for i := range intermittent.Obs {
				if i%100 < c.never {
					clear(intermittent.Obs[i])
				}
			}
			if _, ok := asContinuous(intermittent); ok {
				t.Errorf("seed %d: gamma-Poisson counts of mean 2, spread %v, %d%% never selling, K = %d, read as continuous", seed, c.spread, c.never, c.k)
			}
		}
		gamma := inWholeUnits(portfolioOf(t, prior.Managerial, []string{"gamma"}, 200, 0.8, 0.7, 200, 4, seed), 0)
		if _, ok := asContinuous(gamma); ok {
			t.Errorf("seed %d: gamma days in whole units read as continuous", seed)
		}
		low := inWholeUnits(portfolioOf(t, prior.NormalNormal, nil, 10, 0.3, 0.2, 200, 5, seed), 0)
		if _, ok := asContinuous(low); ok {
			t.Errorf("seed %d: whole units around 10 read as continuous", seed)
		}
		for _, c := range []struct {
			kind     string
			families []string
			level    float64
			n        int
		}{
			{prior.GammaPoisson, nil, 3, 5},
			{prior.Managerial, []string{"negbinomial"}, 20, 5},
			{prior.GammaPoisson, nil, 10, 1},
		} {
			p := portfolioOf(t, c.kind, c.families, c.level, 0.6, 1, 200, c.n, seed)
			if _, ok := asContinuous(p); ok {
				t.Errorf("seed %d: %s %v counts of level %v, n = %d, read as continuous", seed, c.kind, c.families, c.level, c.n)
			}
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
