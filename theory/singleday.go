package theory

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Products seen once (README.md, formula 9). Under the normal-normal
// prior, theta_k ~ N(mu0, tau^2) and demand ~ N(theta_k, sigma^2), a
// single day y_k is N(mu0, V) with V = tau^2 + sigma^2 whatever the
// split: the portfolio shows V, never the share w = tau^2 / V of it that
// lies between products, which Bayes-optimal is given. The functions
// below measure what that costs, in the units every table uses: regret
// relative to the oracle's cost.

var stdNormal = distuv.UnitNormal

// checkShare returns an error unless 0 <= share < 1 and 0 < ratio < 1.
func checkShare(share, ratio float64) error {
	if !(share >= 0 && share < 1) {
		return fmt.Errorf("theory: between-product share %v outside [0, 1)", share)
	}
	if !(ratio > 0 && ratio < 1) {
		return fmt.Errorf("theory: critical ratio %v outside (0, 1)", ratio)
	}
	return nil
}

// normalCost is E[ratio (D-q)^+ + (1-ratio) (q-D)^+] for D ~ N(mu, s^2).
func normalCost(q, mu, s, ratio float64) float64 {
	t := (q - mu) / s
	return s * (stdNormal.Prob(t) + t*(stdNormal.CDF(t)-ratio))
}

// singleDayOracleCost is the oracle's cost per unit sqrt(V): it knows
// theta_k and orders its ratio-quantile, sigma phi(z).
func singleDayOracleCost(share, ratio float64) float64 {
	return math.Sqrt(1-share) * stdNormal.Prob(stdNormal.Quantile(ratio))
}

// SingleDayRegret is formula (9a): the relative regret of the rule
// q_k = mu0 + a (y_k - mu0) + b sqrt(V) on normal-normal products seen
// once, where share = tau^2 / V lies between products. a = 1, b = 0 is
// SAA; a = 0, b = z the quantile of all days pooled; a = w,
// b = z sqrt(1 - w^2) the Bayes-optimal rule for share w (z the
// ratio-quantile of N(0, 1)).
func SingleDayRegret(a, b, share, ratio float64) (float64, error) {
	if err := checkShare(share, ratio); err != nil {
		return 0, err
	}
	// D - q = (1-a)(theta - mu0) - a e_1 + e_2 - b sqrt(V), with the
	// product's deviation and its two days' errors independent.
	s := math.Sqrt((1-a)*(1-a)*share + (a*a+1)*(1-share))
	return normalCost(0, -b, s, ratio)/singleDayOracleCost(share, ratio) - 1, nil
}

// SingleDayBayesRegret is formula (9b): Bayes-optimal's relative regret
// on products seen once, sqrt(1 + w) - 1 for share w, whatever the
// critical ratio (0 where the days carry no error, sqrt 2 - 1 where the
// products do not differ).
func SingleDayBayesRegret(share float64) (float64, error) {
	if err := checkShare(share, 0.5); err != nil {
		return 0, err
	}
	return math.Sqrt(1+share) - 1, nil
}

// SingleDayLowerBound is formula (9c): a lower bound, over every rule
// that sees products' single days (and knows mu0 and V, which no rule
// does exactly), on the largest of its gaps to Bayes-optimal at the
// between-product shares w1 and w2, in regret units. A rule's largest
// gap is at least its average gap under any weights on the two shares,
// and that average is at least the least average any rule reaches, which
// the rule minimising, day by day, the weighted expected cost over the
// two shares attains; the bound is the largest such average over a grid
// of weights.
func SingleDayLowerBound(w1, w2, ratio float64) (float64, error) {
	for _, w := range []float64{w1, w2} {
		if err := checkShare(w, ratio); err != nil {
			return 0, err
		}
	}
	b1, _ := SingleDayBayesRegret(w1)
	b2, _ := SingleDayBayesRegret(w2)
	best := math.Inf(-1)
	const steps = 50
	for i := range steps + 1 {
		p := float64(i) / steps
		r, err := weightedBayesRisk(w1, w2, p, ratio)
		if err != nil {
			return 0, err
		}
		best = math.Max(best, r-(p*b1+(1-p)*b2))
	}
	return best, nil
}

// weightedBayesRisk is the least p R(w1) + (1-p) R(w2) over rules that see
// one day, R relative regret: for each day y (in units of sqrt(V) about
// mu0, y ~ N(0, 1) under both shares) the order that minimises the
// weighted cost, each share's cost divided by its oracle's, integrated
// over y by the trapezoid rule on [-10, 10].
func weightedBayesRisk(w1, w2, p, ratio float64) (float64, error) {
	shares, weights := []float64{w1, w2}, []float64{p, 1 - p}
	c := make([]float64, 2)
	s := make([]float64, 2)
	for i, w := range shares {
		c[i] = weights[i] / singleDayOracleCost(w, ratio)
		s[i] = math.Sqrt(1 - w*w)
	}
	cost := func(q, y float64) float64 {
		var t float64
		for i, w := range shares {
			if c[i] > 0 {
				t += c[i] * normalCost(q, w*y, s[i], ratio)
			}
		}
		return t
	}
	// The weighted cost's derivative in q, sum c_i (Phi((q - mu_i)/s_i) -
	// ratio), rises from -ratio sum c_i to (1 - ratio) sum c_i: bisect.
	order := func(y float64) float64 {
		lo, hi := -20.0, 20.0
		for range 100 {
			mid := (lo + hi) / 2
			var d float64
			for i, w := range shares {
				d += c[i] * (stdNormal.CDF((mid-w*y)/s[i]) - ratio)
			}
			if d < 0 {
				lo = mid
			} else {
				hi = mid
			}
		}
		return (lo + hi) / 2
	}
	const n = 2000
	h := 20.0 / n
	var total float64
	for i := range n + 1 {
		y := -10 + float64(i)*h
		f := stdNormal.Prob(y) * cost(order(y), y)
		if i == 0 || i == n {
			f /= 2
		}
		total += f * h
	}
	if math.IsNaN(total) {
		return 0, errors.New("theory: single-day risk is NaN")
	}
	return total - 1, nil
}

// SingleDayLinearRule is formula (9d): the rule q = mu0 + a (y - mu0) +
// b sqrt(V), 0 <= a <= 1, whose largest gap to Bayes-optimal at shares
// w1 and w2 is least (Gap), found on a grid of a and b refined twice
// around the best point. It bounds SingleDayLowerBound from above.
func SingleDayLinearRule(w1, w2, ratio float64) (a, b, gap float64, err error) {
	for _, w := range []float64{w1, w2} {
		if err := checkShare(w, ratio); err != nil {
			return 0, 0, 0, err
		}
	}
	b1, _ := SingleDayBayesRegret(w1)
	b2, _ := SingleDayBayesRegret(w2)
	worst := func(a, b float64) float64 {
		r1, _ := SingleDayRegret(a, b, w1, ratio)
		r2, _ := SingleDayRegret(a, b, w2, ratio)
		return math.Max(r1-b1, r2-b2)
	}
	z := stdNormal.Quantile(ratio)
	aLo, aHi, bLo, bHi := 0.0, 1.0, math.Min(0, z)-0.5, math.Max(0, z)+0.5
	gap = math.Inf(1)
	for range 3 {
		const steps = 60
		for i := range steps + 1 {
			ai := aLo + (aHi-aLo)*float64(i)/steps
			for j := range steps + 1 {
				bj := bLo + (bHi-bLo)*float64(j)/steps
				if g := worst(ai, bj); g < gap {
					a, b, gap = ai, bj, g
				}
			}
		}
		da, db := 2*(aHi-aLo)/steps, 2*(bHi-bLo)/steps
		aLo, aHi, bLo, bHi = math.Max(0, a-da), math.Min(1, a+da), b-db, b+db
	}
	return a, b, gap, nil
}
