package baseline

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/problem"
)

// Anchor selects the distribution Shrunken-SAA shrinks towards.
type Anchor int

const (
	// GrandMeanAnchor is the average of the instances' empirical
	// distributions on the common support (Gupta & Kallus's p0 = GM).
	GrandMeanAnchor Anchor = iota
	// UniformAnchor puts equal mass on every common support point.
	UniformAnchor
)

// DefaultAlphas is Gupta & Kallus's default grid: 120 points from 0 to 180.
func DefaultAlphas() []float64 {
	a := make([]float64, 120)
	for i := range a {
		a[i] = 180 * float64(i) / 119
	}
	return a
}

// DefaultBins is the size of the common support built for continuous data.
const DefaultBins = 100

// ShrunkenSAA is Gupta & Kallus's data-pooling Shrunken-SAA, as in their
// public Julia code (vgupta1/JS_SAA, src/genPurpose.jl): instance k decides
// the first support point where the CDF of
//
//	alpha/(N_k+alpha) p0 + N_k/(N_k+alpha) phat_k
//
// reaches rho (p0 alone when N_k = 0), with one alpha for all instances,
// chosen on a grid by minimising the pooled leave-one-out cost
// (1/K) sum_k sum_i c(x_k(alpha, p0, data_k minus point i), point i).
//
// Common support. Binned data (Portfolio.Support set, as for Rossmann) use
// the bins: slot g of instance k has value Support[k][g], and p0 lives on
// slot indices, exactly as in Gupta & Kallus. Continuous data get a common
// support built here: each instance is divided by its robust scale (the
// 25%-trimmed mean of its observations, as in PooledSAA); the d = Bins support slots are the pooled
// quantiles of all scaled observations at levels (g+1/2)/d; slot g of
// instance k has value scale_k * G[g]; and the grand-mean anchor counts each
// scaled observation at its nearest slot. The shrunk distribution of
// instance k is p0 on those slot values plus phat_k on its own observations,
// so alpha = 0 gives SAA exactly and alpha -> infinity the anchor's
// rho-quantile.
type ShrunkenSAA struct {
	Anchor Anchor
	// Alphas is the grid searched (nil: DefaultAlphas). A single value fixes
	// alpha.
	Alphas []float64
	// Bins is the common-support size for continuous data (0: DefaultBins).
	Bins int
	// Problem scores the leave-one-out cost (nil: the newsvendor).
	Problem problem.Problem
	// Additive builds the continuous common support from the observations
	// as they are, without dividing each instance by its scale: one grid
	// in the data's units for all instances, which fits additive
	// heterogeneity (normal-normal) where the scaled support fits
	// multiplicative heterogeneity.
	Additive bool
}

func (s *ShrunkenSAA) Name() string {
	name := "shrunken-saa"
	if s.Additive {
		name += "-additive"
	}
	if s.Anchor == UniformAnchor {
		name += "-uniform"
	}
	return name
}

// ShrunkenFit is the outcome of fitting Shrunken-SAA to a portfolio.
type ShrunkenFit struct {
	Alpha     float64
	Decisions []float64
	// LOOCost[i] is the pooled leave-one-out cost at Alphas[i].
	LOOCost []float64
}

func (s *ShrunkenSAA) Decide(p *data.Portfolio) ([]float64, error) {
	f, err := s.Fit(p)
	if err != nil {
		return nil, err
	}
	return f.Decisions, nil
}

// pooledInstance is one instance on the common support. Its sorted
// observations form groups of tied values; group g ends at sorted index
// end[g] and has value val[g], anchor CDF f0[g] there and last slot le[g]
// at or below it (-1: none).
type pooledInstance struct {
	own   []float64 // sorted observations
	end   []int
	val   []float64
	f0    []float64
	le    []int
	scale float64 // slot g has value scale*support[g]
	slots []float64
	rho   float64
}

// Fit chooses alpha by pooled leave-one-out cost and returns the decisions.
func (s *ShrunkenSAA) Fit(p *data.Portfolio) (*ShrunkenFit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	alphas := s.Alphas
	if alphas == nil {
		alphas = DefaultAlphas()
	}
	for _, a := range alphas {
		if !(a >= 0) || math.IsInf(a, 0) {
			return nil, fmt.Errorf("shrunken-saa: alpha %v must be finite and >= 0", a)
		}
	}
	if len(alphas) == 0 {
		return nil, fmt.Errorf("shrunken-saa: empty alpha grid")
	}
	prob := s.Problem
	if prob == nil {
		prob = problem.Newsvendor{}
	}
	insts, cum, err := s.commonSupport(p)
	if err != nil {
		return nil, err
	}
	fit := &ShrunkenFit{LOOCost: make([]float64, len(alphas))}
	best := 0
	if len(alphas) > 1 {
		// Per-chunk partial sums, reduced in chunk order: the same data give
		// the same alpha on any number of processors.
		const chunk = 4096
		nChunks := (len(insts) + chunk - 1) / chunk
		partial := make([][]float64, nChunks)
		parallelFor(nChunks, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				sums := make([]float64, len(alphas))
				for k := c * chunk; k < min(len(insts), (c+1)*chunk); k++ {
					in := &insts[k]
					for ai, a := range alphas {
						sums[ai] += in.looCost(a, cum, prob)
					}
				}
				partial[c] = sums
			}
		})
		for _, sums := range partial {
			for ai := range alphas {
				fit.LOOCost[ai] += sums[ai]
			}
		}
		for ai := range alphas {
			fit.LOOCost[ai] /= float64(len(insts))
			if fit.LOOCost[ai] < fit.LOOCost[best] {
				best = ai
			}
		}
	}
	fit.Alpha = alphas[best]
	fit.Decisions = make([]float64, len(insts))
	parallelFor(len(insts), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			fit.Decisions[k] = insts[k].decide(fit.Alpha, -1, cum)
		}
	})
	return fit, nil
}

// looCost is sum_i c(x(alpha, data minus point i), point i).
func (in *pooledInstance) looCost(alpha float64, cum []float64, prob problem.Problem) float64 {
	total, x := 0.0, 0.0
	for i, xi := range in.own {
		// Leaving out either of two tied points gives the same decision.
		if i == 0 || xi != in.own[i-1] {
			x = in.decide(alpha, i, cum)
		}
		total += prob.Cost(x, xi, in.rho)
	}
	return total
}

// decide returns the first point of (slots) ∪ (own minus index skip) where
// the shrunk CDF reaches rho. The shrunk CDF at the own groups is
// nondecreasing (floating-point rounding is monotone too), so the first
// group reaching rho is found by bisection: leave-one-out costs
// O(n log n) per instance and alpha, not O(n^2).
func (in *pooledInstance) decide(alpha float64, skip int, cum []float64) float64 {
	m := len(in.own)
	if skip >= 0 {
		m--
	}
	w := 1.0 // no data: the anchor alone
	if m > 0 {
		w = alpha / (float64(m) + alpha)
	}
	ng := len(in.end)
	gs, emptied := -1, false // the skipped point's group, and whether it is now empty
	if skip >= 0 {
		gs = sort.SearchInts(in.end, skip)
		start := 0
		if gs > 0 {
			start = in.end[gs-1] + 1
		}
		emptied = in.end[gs] == start
	}
	count := func(g int) int { // own points <= val[g], minus the skipped one
		c := in.end[g] + 1
		if gs >= 0 && g >= gs {
			c--
		}
		return c
	}
	reaches := func(g int) bool {
		return m > 0 && w*in.f0[g]+(1-w)*float64(count(g))/float64(m) >= in.rho-probTol
	}
	g := sort.Search(ng, reaches)
	if g == gs && emptied {
		g++ // an emptied group is no candidate; the next one reaches rho too
	}
	found := g < ng
	// The last remaining group below the answer (or the last one).
	pg := g - 1
	if pg == gs && emptied {
		pg--
	}
	answer, before, prevLE := math.Inf(1), 0, -1
	if found {
		answer = in.val[g]
	}
	if pg >= 0 {
		before, prevLE = count(pg), in.le[pg]
	}
	if w == 0 {
		return answer
	}
	if !found {
		before = m
	}
	level := in.rho
	if m > 0 {
		level = (in.rho - (1-w)*float64(before)/float64(m)) / w
	}
	// Below the own candidate the empirical CDF is before/m, so the first
	// slot there reaching rho is the first with anchor CDF >= level, and it
	// lies above the previous own value.
	gslot := max(searchFirstGE(cum, level), prevLE+1)
	if gslot < len(cum) {
		if v := in.scale * in.slots[gslot]; v < answer {
			return v
		}
	}
	if math.IsInf(answer, 1) {
		// Rounding left the level just above 1: the top slot.
		return in.scale * in.slots[len(in.slots)-1]
	}
	return answer
}

// commonSupport builds the instances on the common support and the anchor's
// cumulative distribution over slots.
func (s *ShrunkenSAA) commonSupport(p *data.Portfolio) ([]pooledInstance, []float64, error) {
	k := p.Len()
	insts := make([]pooledInstance, k)
	var d int
	var slotOf func(k int, x float64) int // slot an observation counts in for the anchor
	if p.Support != nil {
		d = len(p.Support[0])
		for i, sup := range p.Support {
			if len(sup) != d || d == 0 {
				return nil, nil, fmt.Errorf("shrunken-saa: instance %q has %d support points, instance %q %d", p.IDs[i], len(sup), p.IDs[0], d)
			}
			if !slices.IsSorted(sup) {
				return nil, nil, fmt.Errorf("shrunken-saa: instance %q support is not increasing", p.IDs[i])
			}
			insts[i].scale, insts[i].slots = 1, sup
		}
		slotOf = func(k int, x float64) int {
			sup := p.Support[k]
			g := sort.SearchFloat64s(sup, x)
			if g == len(sup) || sup[g] != x {
				g = nearest(sup, x)
			}
			return g
		}
	} else {
		d = s.Bins
		if d == 0 {
			d = DefaultBins
		}
		if d < 1 {
			return nil, nil, fmt.Errorf("shrunken-saa: %d bins", d)
		}
		scale, pooled := scaledPool(p)
		if s.Additive {
			pooled = pooled[:0]
			for k, obs := range p.Obs {
				scale[k] = 1
				pooled = append(pooled, obs...)
			}
			slices.Sort(pooled)
		}
		grid := make([]float64, d)
		for g := range grid {
			grid[g] = pooled[min(len(pooled)-1, int((float64(g)+0.5)/float64(d)*float64(len(pooled))))]
		}
		grid = slices.Compact(grid)
		d = len(grid)
		for i := range insts {
			insts[i].scale, insts[i].slots = scale[i], grid
		}
		slotOf = func(k int, x float64) int { return nearest(grid, x/scale[k]) }
	}

	p0 := make([]float64, d)
	if s.Anchor == UniformAnchor {
		for g := range p0 {
			p0[g] = 1 / float64(d)
		}
	} else {
		for i, obs := range p.Obs {
			wt := 1 / float64(len(obs)) / float64(k)
			for _, x := range obs {
				p0[slotOf(i, x)] += wt
			}
		}
	}
	cum := make([]float64, d)
	c := 0.0
	for g, v := range p0 {
		c += v
		cum[g] = c
	}
	cum[d-1] = 1
	parallelFor(k, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			in := &insts[i]
			in.rho = p.Ratios[i]
			in.own = slices.Clone(p.Obs[i])
			slices.Sort(in.own)
			for j, x := range in.own {
				if j+1 < len(in.own) && in.own[j+1] == x {
					continue // a group ends at its last tie
				}
				// last slot with value <= x
				le := sort.Search(len(in.slots), func(g int) bool { return in.scale*in.slots[g] > x }) - 1
				f0 := 0.0
				if le >= 0 {
					f0 = cum[le]
				}
				in.end, in.val, in.f0, in.le = append(in.end, j), append(in.val, x), append(in.f0, f0), append(in.le, le)
			}
		}
	})
	return insts, cum, nil
}

// nearest returns the index of the sorted value closest to x.
func nearest(sorted []float64, x float64) int {
	g := sort.SearchFloat64s(sorted, x)
	if g == len(sorted) || (g > 0 && x-sorted[g-1] <= sorted[g]-x) {
		return g - 1
	}
	return g
}
