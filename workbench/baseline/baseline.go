// Package baseline holds the classical policies ptft compares against, all
// behind one Policy interface: SAA, pooled SAA, Shrunken-SAA data pooling
// (Gupta & Kallus 2022), parametric empirical Bayes (normal, on log
// demand, gamma-Poisson and zero-inflated gamma-Poisson), nonparametric
// empirical Bayes (NPMLE: normal and Poisson kernels, and on log demand
// with the noise distribution estimated too), Bayes-optimal with the true
// hyperparameters, and the oracle.
//
// Policies see only a data.Portfolio (observations and critical ratios);
// Bayes and Oracle are told the truth by construction. Every decision is
// scored by problem.Evaluate.
package baseline

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
)

// Policy turns a portfolio's observations into one decision per instance.
type Policy interface {
	// Name identifies the policy in tables ("saa", "shrunken-saa", ...).
	Name() string
	// Decide returns one decision per instance, in portfolio order.
	Decide(p *data.Portfolio) ([]float64, error)
}

// Decide runs pol on p and checks its output: one decision per instance,
// each finite and non-negative. Commands and experiments call policies
// through it, so that no silently wrong decision reaches a file or a
// table; an error names the policy and the instance.
func Decide(pol Policy, p *data.Portfolio) ([]float64, error) {
	q, err := pol.Decide(p)
	if err != nil {
		return nil, err
	}
	if err := CheckDecisions(pol.Name(), p, q); err != nil {
		return nil, err
	}
	return q, nil
}

// CheckDecisions reports the first decision that is not finite and
// non-negative, or a count that does not match p.
func CheckDecisions(method string, p *data.Portfolio, q []float64) error {
	if len(q) != p.Len() {
		return fmt.Errorf("%s: %s returned %d decisions for %d instances", p.Source, method, len(q), p.Len())
	}
	for k, v := range q {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("%s: instance %q: %s decided %v, not a finite non-negative quantity (its data, or the portfolio's, are beyond what %s handles)",
				p.Source, p.IDs[k], method, v, method)
		}
	}
	return nil
}

// ErrUnknownMethod is wrapped by the errors of name lookups that name no
// method (a caller's mistake, unlike a model that fails to load).
var ErrUnknownMethod = errors.New("unknown method")

// Methods lists the data-driven policies selectable by name.
var Methods = []string{"saa", "pooled-saa", "shrunken-saa", "shrunken-saa-uniform", "shrunken-saa-additive", "eb", "eb-log", "eb-zi-gamma-poisson", "eb-negbinomial", "npmle", "npmle-poisson", "npmle-log"}

// ByName returns the data-driven policy of that name with default settings.
func ByName(name string) (Policy, error) {
	switch name {
	case "saa":
		return SAA{}, nil
	case "pooled-saa":
		return PooledSAA{}, nil
	case "shrunken-saa":
		return &ShrunkenSAA{}, nil
	case "shrunken-saa-uniform":
		return &ShrunkenSAA{Anchor: UniformAnchor}, nil
	case "shrunken-saa-additive":
		return &ShrunkenSAA{Additive: true}, nil
	case "eb", "eb-normal":
		return EmpiricalBayes{Family: NormalFamily}, nil
	case "eb-gamma-poisson":
		return EmpiricalBayes{Family: GammaPoissonFamily}, nil
	case "eb-log":
		return LogEB{}, nil
	case "eb-zi-gamma-poisson":
		return ZeroInflatedEB{}, nil
	case "eb-negbinomial":
		return NegBinomialEB{}, nil
	case "eb-log-ml":
		return LogEB{Method: MarginalLikelihood}, nil
	case "npmle":
		return NPMLE{}, nil
	case "npmle-poisson":
		return NPMLE{Family: PoissonMixture}, nil
	case "npmle-log":
		return LogDeconvolution{}, nil
	}
	return nil, fmt.Errorf("%w %q (want one of %v, eb-normal or eb-gamma-poisson)", ErrUnknownMethod, name, Methods)
}

// probTol matches dist's: the comparison "cumulative probability >= rho"
// tolerates rounding, so 19/20 counts as reaching 0.95.
const probTol = 1e-12

// OrderIndex returns the 1-based index j of the empirical rho-quantile of n
// sorted points: the smallest j with j/n >= rho.
func OrderIndex(n int, rho float64) int {
	j := int(math.Ceil(rho * float64(n)))
	j = min(max(j, 1), n)
	for j > 1 && float64(j-1)/float64(n) >= rho-probTol {
		j--
	}
	for j < n && float64(j)/float64(n) < rho-probTol {
		j++
	}
	return j
}

// SAA is sample average approximation: the ceil(rho n)-th order statistic
// of each instance's own observations.
type SAA struct{}

func (SAA) Name() string { return "saa" }

func (SAA) Decide(p *data.Portfolio) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	q := make([]float64, p.Len())
	parallelFor(p.Len(), func(lo, hi int) {
		var buf []float64
		for k := lo; k < hi; k++ {
			buf = append(buf[:0], p.Obs[k]...)
			slices.Sort(buf)
			q[k] = buf[OrderIndex(len(buf), p.Ratios[k])-1]
		}
	})
	return q, nil
}

// robustScales returns each instance's scale: the 25%-trimmed mean of its
// observations (the mean after dropping the lowest and highest floor(n/4)),
// else the median of the other instances' positive scales (else 1), so that
// all-zero instances stay usable. A median would be an order statistic of
// the instance: with odd n and rho near 1/2 every instance's median would
// scale to exactly 1 and pooling would collapse to SAA.
func robustScales(p *data.Portfolio) []float64 {
	s := make([]float64, p.Len())
	parallelFor(p.Len(), func(lo, hi int) {
		var buf []float64
		for k := lo; k < hi; k++ {
			buf = append(buf[:0], p.Obs[k]...)
			slices.Sort(buf)
			cut := len(buf) / 4
			mid := buf[cut : len(buf)-cut]
			sum := 0.0
			for _, x := range mid {
				sum += x
			}
			s[k] = sum / float64(len(mid))
		}
	})
	var pos []float64
	for _, v := range s {
		if v > 0 {
			pos = append(pos, v)
		}
	}
	fallback := 1.0
	if len(pos) > 0 {
		slices.Sort(pos)
		fallback = pos[len(pos)/2]
	}
	for k, v := range s {
		if !(v > 0) {
			s[k] = fallback
		}
	}
	return s
}

// scaledPool returns the instances' robust scales and all observations
// divided by their instance's scale, sorted.
func scaledPool(p *data.Portfolio) (scale, pooled []float64) {
	scale = robustScales(p)
	pooled = make([]float64, 0, p.NumObs())
	for k, obs := range p.Obs {
		for _, x := range obs {
			pooled = append(pooled, x/scale[k])
		}
	}
	slices.Sort(pooled)
	return scale, pooled
}

// PooledSAA divides each instance's observations by its robust scale (a
// trimmed mean), takes one empirical rho-quantile of all of them together, and
// scales it back per instance.
type PooledSAA struct{}

func (PooledSAA) Name() string { return "pooled-saa" }

func (PooledSAA) Decide(p *data.Portfolio) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	scale, pooled := scaledPool(p)
	cache := map[float64]float64{}
	q := make([]float64, p.Len())
	for k, rho := range p.Ratios {
		z, ok := cache[rho]
		if !ok {
			z = pooled[OrderIndex(len(pooled), rho)-1]
			cache[rho] = z
		}
		q[k] = z * scale[k]
	}
	return q, nil
}

// Oracle decides the optimal quantity under each instance's true
// distribution, its rho-quantile, floored at zero: an order cannot be
// negative, and the cost is convex in the order, so the floored quantile
// is the best feasible order. Relative regret is measured against the
// unconstrained quantile's cost (problem.Evaluate), so the oracle's own
// regret is zero except where a true quantile lies below zero (normal
// truths near zero), where it is the small price of feasibility.
type Oracle struct {
	Truth []dist.Distribution
}

func (Oracle) Name() string { return "oracle" }

func (o Oracle) Decide(p *data.Portfolio) ([]float64, error) {
	if len(o.Truth) != p.Len() {
		return nil, fmt.Errorf("oracle: %d truths for %d instances", len(o.Truth), p.Len())
	}
	q := make([]float64, p.Len())
	for k, d := range o.Truth {
		q[k] = max(0, d.Quantile(p.Ratios[k]))
	}
	return q, nil
}

// parallelFor splits [0,n) into contiguous chunks, one per processor.
func parallelFor(n int, body func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/1024))
	if workers <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { body(lo, hi) })
	}
	wg.Wait()
}

// searchFirstGE returns the first index i with xs[i] >= v - probTol.
func searchFirstGE(xs []float64, v float64) int {
	return sort.Search(len(xs), func(i int) bool { return xs[i] >= v-probTol })
}
