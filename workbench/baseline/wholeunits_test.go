package baseline

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
)

// wholeUnitsPortfolio draws k instances of n days recorded in whole
// units (0 below 1/2): each product's level mu ~ N(m, s^2) and its days
// N(mu, sigma^2), on the log scale where logScale (log-normal days).
func wholeUnitsPortfolio(k, n int, m, s, sigma float64, logScale bool, seed uint64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 12))
	p := &data.Portfolio{Source: "whole-units"}
	for i := range k {
		mu := m + s*rng.NormFloat64()
		o := make([]float64, n)
		for j := range o {
			x := mu + sigma*rng.NormFloat64()
			if logScale {
				x = math.Exp(x)
			}
			o[j] = max(0, math.Round(x))
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.8)
	}
	return p
}

// Each ratio favours its model on its own days, and both favour the
// negative binomial on its days; data that are not counts are refused.
func TestWholeUnitsLogRatios(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		for _, c := range []struct {
			name              string
			p                 *data.Portfolio
			normal, logNormal bool
		}{
			{"log-normal days, level 100, sigma 0.9", wholeUnitsPortfolio(500, 3, math.Log(100), 1, 0.9, true, seed), false, true},
			{"log-normal days, level 200, sigma 0.7", wholeUnitsPortfolio(500, 4, math.Log(200), 0.8, 0.7, true, seed), false, true},
			{"log-normal days, level 20, sigma 0.8", wholeUnitsPortfolio(500, 3, math.Log(20), 0.8, 0.8, true, seed), false, true},
			{"normal days, level 200, sd 40", wholeUnitsPortfolio(500, 3, 200, 40, 40, false, seed), true, false},
			{"normal days, level 200, sd 40, two days", wholeUnitsPortfolio(500, 2, 200, 40, 40, false, seed), true, false},
			{"negative binomial, level 200, size 4", negBinomialPortfolio(500, 3, math.Log(200), 0.8, 4, seed), false, false},
			{"negative binomial, level 50, size 1.5", negBinomialPortfolio(500, 3, math.Log(50), 0.6, 1.5, seed), false, false},
			{"negative binomial, level 100, size 50", negBinomialPortfolio(500, 3, math.Log(100), 0.6, 50, seed), false, false},
		} {
			r, err := WholeUnitsLogRatios(c.p)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			for _, v := range []struct {
				name     string
				ratio    float64
				positive bool
			}{{"normal", r.Normal, c.normal}, {"log-normal", r.LogNormal, c.logNormal}} {
				if v.positive != (v.ratio > 3) || (!v.positive && v.ratio > -3) {
					t.Errorf("seed %d, %s: %s log ratio %.2f", seed, c.name, v.name, v.ratio)
				}
			}
		}
	}
	p := wholeUnitsPortfolio(50, 3, math.Log(100), 1, 0.9, true, 1)
	p.Obs[7][1] += 0.5
	if _, err := WholeUnitsLogRatios(p); err == nil {
		t.Error("a day of 0.5 more than a whole number: no error")
	}
}

// logNormalInterval is the normal probability of an interval, also deep
// in either tail and from minus infinity.
func TestLogNormalInterval(t *testing.T) {
	n := distuv.UnitNormal
	for _, c := range [][2]float64{{-1, 0.5}, {0.2, 0.3}, {3, 3.5}, {-3.5, -3}, {-0.3, -0.2}} {
		want := math.Log(n.CDF(c[1]) - n.CDF(c[0]))
		if got := logNormalInterval(c[0], c[1]); math.Abs(got-want) > 1e-9 {
			t.Errorf("[%v, %v]: %v, want %v", c[0], c[1], got, want)
		}
	}
	// Far tails: the log of the mass phi(z) (b - a) of a narrow interval.
	for _, z := range []float64{40, -40, 12, -12} {
		a, b := z-1e-6, z+1e-6
		want := math.Log(2e-6) - z*z/2 - 0.5*math.Log(2*math.Pi)
		if got := logNormalInterval(a, b); math.Abs(got-want) > 1e-4 {
			t.Errorf("[%v, %v]: %v, want %v", a, b, got, want)
		}
	}
	if got, want := logNormalInterval(math.Inf(-1), -50), -50.0*50/2-math.Log(50)-0.5*math.Log(2*math.Pi); math.Abs(got-want) > 1e-3 {
		t.Errorf("(-inf, -50]: %v, want %v", got, want)
	}
}
