package data

import "fmt"

// BinUnits returns the portfolio with every observation expressed in its
// instance's bin units, (x - Support[k][0]) / width_k, where width_k is the
// spacing of instance k's first two support points: 0 is the lowest slot
// and, on an evenly spaced support, slot i is i. It also returns origin and
// width, so that a decision q' in bin units is origin[k] + width[k] q' in
// the data's units. The binned portfolio's CostWeights are p's (1 if nil)
// times width_k over the mean width: a cost in bin units times width_k is
// the cost in the data's units.
//
// Binned data such as Rossmann give every instance its own support, whose
// range comes from the instance's history. In bin units instances of very
// different sizes and spreads become comparable, which pooling across
// instances needs; the support is part of the problem as Gupta & Kallus
// pose it, known before any day is observed.
func (p *Portfolio) BinUnits() (binned *Portfolio, origin, width []float64, err error) {
	if p.Support == nil {
		return nil, nil, nil, fmt.Errorf("%s: bin units need a per-instance support (binned data)", p.source())
	}
	if err := p.Validate(); err != nil {
		return nil, nil, nil, err
	}
	binned = &Portfolio{Source: p.Source, IDs: p.IDs, Ratios: p.Ratios, Obs: make([][]float64, p.Len()),
		Support: make([][]float64, p.Len()), CostWeights: make([]float64, p.Len())}
	origin, width = make([]float64, p.Len()), make([]float64, p.Len())
	for k, sup := range p.Support {
		if len(sup) < 2 || !(sup[1] > sup[0]) {
			return nil, nil, nil, fmt.Errorf("%s: instance %q: bin units need at least two increasing support points, have %v", p.source(), p.IDs[k], sup)
		}
		origin[k], width[k] = sup[0], sup[1]-sup[0]
		binned.Obs[k] = make([]float64, len(p.Obs[k]))
		for j, x := range p.Obs[k] {
			if x < sup[0] {
				return nil, nil, nil, fmt.Errorf("%s: instance %q: observation %v below the support's lowest point %v", p.source(), p.IDs[k], x, sup[0])
			}
			binned.Obs[k][j] = (x - origin[k]) / width[k]
		}
		binned.Support[k] = make([]float64, len(sup))
		for i, s := range sup {
			binned.Support[k][i] = (s - origin[k]) / width[k]
		}
	}
	mean := 0.0
	for _, w := range width {
		mean += w / float64(len(width))
	}
	for k, w := range width {
		binned.CostWeights[k] = w / mean
		if p.CostWeights != nil {
			binned.CostWeights[k] *= p.CostWeights[k]
		}
	}
	return binned, origin, width, nil
}
