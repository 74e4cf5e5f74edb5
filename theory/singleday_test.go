package theory

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var singleDayRatios = []float64{0.5, 0.6, 0.8, 0.95, 0.99}

func TestSingleDayRegretOfSAAPooledAndBayesIsInClosedForm(t *testing.T) {
	phi := func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }
	for _, ratio := range singleDayRatios {
		z := stdNormal.Quantile(ratio)
		for _, w := range []float64{0, 0.1, 0.5, 0.9, 0.99} {
			// SAA orders the day: D - y is the difference of two days' errors.
			saa, err := SingleDayRegret(1, 0, w, ratio)
			if err != nil {
				t.Fatal(err)
			}
			if want := math.Sqrt2*phi(0)/phi(z) - 1; math.Abs(saa-want) > 1e-12 {
				t.Errorf("ratio %v share %v: SAA %v, want %v", ratio, w, saa, want)
			}
			// The pooled quantile is the newsvendor optimum for N(mu0, V).
			pooled, _ := SingleDayRegret(0, z, w, ratio)
			if want := 1/math.Sqrt(1-w) - 1; math.Abs(pooled-want) > 1e-12 {
				t.Errorf("ratio %v share %v: pooled %v, want %v", ratio, w, pooled, want)
			}
			bayes, _ := SingleDayRegret(w, z*math.Sqrt(1-w*w), w, ratio)
			want, _ := SingleDayBayesRegret(w)
			if math.Abs(bayes-want) > 1e-12 {
				t.Errorf("ratio %v share %v: Bayes rule %v, want %v", ratio, w, bayes, want)
			}
		}
	}
}

func TestSingleDayRegretMatchesSimulation(t *testing.T) {
	const mu0, tau, sigma, ratio, a, b = 200.0, 80.0, 30.0, 0.8, 0.6, 0.4
	v := tau*tau + sigma*sigma
	rng := rand.New(rand.NewPCG(1, 2))
	var cost, oracle float64
	z := stdNormal.Quantile(ratio)
	for range 400_000 {
		theta := mu0 + tau*rng.NormFloat64()
		y := theta + sigma*rng.NormFloat64()
		q := mu0 + a*(y-mu0) + b*math.Sqrt(v)
		cost += normalCost(q, theta, sigma, ratio)
		oracle += normalCost(theta+z*sigma, theta, sigma, ratio)
	}
	got, err := SingleDayRegret(a, b, tau*tau/v, ratio)
	if err != nil {
		t.Fatal(err)
	}
	if sim := cost/oracle - 1; math.Abs(got-sim) > 0.01 {
		t.Errorf("formula %v, simulation %v", got, sim)
	}
}

func TestSingleDayLowerBoundIsZeroWhereTheShareIsKnown(t *testing.T) {
	for _, ratio := range singleDayRatios {
		for _, w := range []float64{0.2, 0.5, 0.9} {
			lb, err := SingleDayLowerBound(w, w, ratio)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(lb) > 1e-4 {
				t.Errorf("ratio %v, share %v known: bound %v, want 0 (Bayes-optimal reaches it)", ratio, w, lb)
			}
		}
	}
}

// What the suite's target asks at n = 1, to be within one point of
// Bayes-optimal, no rule can promise on both the tight (spread = cv:
// share 0.5) and the wide (spread 0.6, cv 0.2: share 0.9) normal
// portfolio, and the best linear rule is not far from the bound.
func TestSingleDayNoRuleIsNearBayesOnTightAndWidePortfolios(t *testing.T) {
	for _, ratio := range singleDayRatios {
		lb, err := SingleDayLowerBound(0.5, 0.9, ratio)
		if err != nil {
			t.Fatal(err)
		}
		_, _, gap, err := SingleDayLinearRule(0.5, 0.9, ratio)
		if err != nil {
			t.Fatal(err)
		}
		if lb <= 0.01 {
			t.Errorf("ratio %v: lower bound %v, want above one point", ratio, lb)
		}
		if lb > gap+1e-6 {
			t.Errorf("ratio %v: lower bound %v above the linear rule's gap %v", ratio, lb, gap)
		}
	}
}

func TestSingleDayRejectsBadInput(t *testing.T) {
	if _, err := SingleDayRegret(0.5, 0, 1, 0.8); err == nil {
		t.Error("share 1: no error")
	}
	if _, err := SingleDayRegret(0.5, 0, 0.5, 1); err == nil {
		t.Error("ratio 1: no error")
	}
	if _, err := SingleDayLowerBound(-0.1, 0.5, 0.8); err == nil {
		t.Error("share -0.1: no error")
	}
	if _, _, _, err := SingleDayLinearRule(0.5, math.NaN(), 0.8); err == nil {
		t.Error("share NaN: no error")
	}
}

// The table of README.md, formula (9): on normal products seen once,
// the least largest gap to Bayes-optimal (points of regret) that any rule,
// and the best linear rule, can promise on the suite's tight (share 0.5)
// and wide (share 0.9) portfolios together, beside SAA's regret.
func ExampleSingleDayLowerBound() {
	fmt.Println("ratio  bound  linear (a, b)        SAA   Bayes 0.5 / 0.9")
	b5, _ := SingleDayBayesRegret(0.5)
	b9, _ := SingleDayBayesRegret(0.9)
	for _, ratio := range singleDayRatios {
		lb, _ := SingleDayLowerBound(0.5, 0.9, ratio)
		a, b, gap, _ := SingleDayLinearRule(0.5, 0.9, ratio)
		saa, _ := SingleDayRegret(1, 0, 0.5, ratio)
		fmt.Printf("%.2f  %5.1f  %5.1f (%.2f, %.2f)  %6.1f  %.1f / %.1f\n", ratio, 100*lb, 100*gap, a, b, 100*saa, 100*b5, 100*b9)
	}
	// Output:
	// ratio  bound  linear (a, b)        SAA   Bayes 0.5 / 0.9
	// 0.50    5.9    5.9 (0.77, 0.00)    41.4  22.5 / 37.8
	// 0.60    6.3    6.3 (0.77, 0.15)    46.0  22.5 / 37.8
	// 0.80   11.0   11.1 (0.76, 0.50)   101.5  22.5 / 37.8
	// 0.95   24.7   25.5 (0.70, 1.00)   447.0  22.5 / 37.8
	// 0.99   40.8   41.9 (0.63, 1.49)  2016.9  22.5 / 37.8
}
