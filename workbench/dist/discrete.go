package dist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Discrete is a finite discrete distribution. Build it with NewDiscrete or
// NewEmpirical; the zero value is not usable.
type Discrete struct {
	support []float64 // strictly increasing
	cum     []float64 // cum[i] = P(D <= support[i])
	cumMean []float64 // cumMean[i] = E[D; D <= support[i]]
	family  string
	sample  []float64 // for empirical: the original sample, for Spec
}

// NewDiscrete returns the distribution putting probs[i] on support[i].
// Support points need not be sorted or distinct; probabilities must be
// non-negative and sum to 1 (within 1e-9; they are renormalised).
func NewDiscrete(support, probs []float64) (*Discrete, error) {
	if len(support) == 0 || len(support) != len(probs) {
		return nil, fmt.Errorf("dist: discrete needs equal, non-zero numbers of support points and probabilities (got %d and %d)", len(support), len(probs))
	}
	total := 0.0
	for i, p := range probs {
		if !(p >= 0) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("dist: discrete probability %d is %v", i, p)
		}
		if math.IsNaN(support[i]) || math.IsInf(support[i], 0) {
			return nil, fmt.Errorf("dist: discrete support point %d is %v", i, support[i])
		}
		total += p
	}
	if math.Abs(total-1) > 1e-9 {
		return nil, fmt.Errorf("dist: discrete probabilities sum to %v, not 1", total)
	}
	idx := make([]int, len(support))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return support[idx[a]] < support[idx[b]] })
	d := &Discrete{family: "discrete"}
	c, cm := 0.0, 0.0
	for _, i := range idx {
		x, p := support[i], probs[i]/total
		c += p
		cm += x * p
		if n := len(d.support); n > 0 && d.support[n-1] == x {
			d.cum[n-1], d.cumMean[n-1] = c, cm
			continue
		}
		d.support = append(d.support, x)
		d.cum = append(d.cum, c)
		d.cumMean = append(d.cumMean, cm)
	}
	d.cum[len(d.cum)-1] = 1
	return d, nil
}

// NewEmpirical returns the empirical distribution of sample: mass 1/n on
// each point. Its quantile at p is the ceil(p n)-th order statistic.
func NewEmpirical(sample []float64) (*Discrete, error) {
	if len(sample) == 0 {
		return nil, fmt.Errorf("dist: empirical distribution of an empty sample")
	}
	probs := make([]float64, len(sample))
	for i := range probs {
		probs[i] = 1 / float64(len(sample))
	}
	d, err := NewDiscrete(sample, probs)
	if err != nil {
		return nil, err
	}
	d.family = "empirical"
	d.sample = slices.Clone(sample)
	return d, nil
}

// Support returns the sorted distinct support points.
func (d *Discrete) Support() []float64 { return d.support }

// index returns the number of support points <= x.
func (d *Discrete) index(x float64) int {
	return sort.Search(len(d.support), func(i int) bool { return d.support[i] > x })
}

func (d *Discrete) CDF(x float64) float64 {
	i := d.index(x)
	if i == 0 {
		return 0
	}
	return d.cum[i-1]
}

func (d *Discrete) Quantile(p float64) float64 {
	checkProb(p)
	i := sort.Search(len(d.cum), func(i int) bool { return d.cum[i] >= p-probTol })
	return d.support[min(i, len(d.support)-1)]
}

func (d *Discrete) Mean() float64 { return d.cumMean[len(d.cumMean)-1] }

func (d *Discrete) PartialMean(x float64) float64 {
	i := d.index(x)
	if i == 0 {
		return 0
	}
	return d.cumMean[i-1]
}

func (d *Discrete) Rand(src rand.Source) float64 {
	u := rand.New(src).Float64()
	i := sort.Search(len(d.cum), func(i int) bool { return d.cum[i] > u })
	return d.support[min(i, len(d.support)-1)]
}

func (d *Discrete) Spec() Spec {
	if d.family == "empirical" {
		return Spec{Family: "empirical", Support: slices.Clone(d.sample)}
	}
	probs := make([]float64, len(d.cum))
	prev := 0.0
	for i, c := range d.cum {
		probs[i] = c - prev
		prev = c
	}
	return Spec{Family: "discrete", Support: slices.Clone(d.support), Probs: probs}
}

// Mixture is a finite mixture of distributions.
type Mixture struct {
	Weights    []float64
	Components []Distribution
}

// NewMixture validates weights (non-negative, summing to 1) and components.
func NewMixture(weights []float64, components ...Distribution) (*Mixture, error) {
	if len(weights) == 0 || len(weights) != len(components) {
		return nil, fmt.Errorf("dist: mixture needs equal, non-zero numbers of weights and components (got %d and %d)", len(weights), len(components))
	}
	total := 0.0
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("dist: mixture weight %d is %v", i, w)
		}
		total += w
	}
	if math.Abs(total-1) > 1e-9 {
		return nil, fmt.Errorf("dist: mixture weights sum to %v, not 1", total)
	}
	return &Mixture{Weights: slices.Clone(weights), Components: slices.Clone(components)}, nil
}

func (m *Mixture) CDF(x float64) float64 {
	s := 0.0
	for i, c := range m.Components {
		s += m.Weights[i] * c.CDF(x)
	}
	return s
}

// Quantile brackets the answer between the components' quantiles and
// bisects; where every component is integer-valued the answer is rounded up
// to the atom it converges to.
func (m *Mixture) Quantile(p float64) float64 {
	checkProb(p)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, c := range m.Components {
		if m.Weights[i] == 0 {
			continue
		}
		q := c.Quantile(p)
		lo, hi = min(lo, q), max(hi, q)
	}
	if m.CDF(lo) >= p-probTol {
		return lo
	}
	q := bracketedQuantile(m.CDF, p, lo, hi)
	if m.integerValued() {
		if f := math.Floor(q); m.CDF(f) >= p-probTol {
			return f
		}
		return math.Ceil(q)
	}
	return q
}

func (m *Mixture) integerValued() bool {
	for _, c := range m.Components {
		switch c := c.(type) {
		case Poisson, NegBinomial:
		case *Mixture:
			if !c.integerValued() {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (m *Mixture) Mean() float64 {
	s := 0.0
	for i, c := range m.Components {
		s += m.Weights[i] * c.Mean()
	}
	return s
}

func (m *Mixture) PartialMean(x float64) float64 {
	s := 0.0
	for i, c := range m.Components {
		s += m.Weights[i] * c.PartialMean(x)
	}
	return s
}

func (m *Mixture) Rand(src rand.Source) float64 {
	u := rand.New(src).Float64()
	c := 0.0
	for i, w := range m.Weights {
		c += w
		if u < c {
			return m.Components[i].Rand(src)
		}
	}
	return m.Components[len(m.Components)-1].Rand(src)
}

func (m *Mixture) Spec() Spec {
	s := Spec{Family: "mixture", Weights: slices.Clone(m.Weights)}
	for _, c := range m.Components {
		s.Components = append(s.Components, c.Spec())
	}
	return s
}
