package rossmann

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/data"
)

// KnownShape is a diagnostic, not a data-driven method: it knows every
// store's full-history distribution except where it sits, and estimates
// only that from the observed days. It bounds what any method that has to
// learn the rest from N days can gain over SAA: with Scale false it knows
// each store's shape and spread and shifts the true rho-quantile by the
// error of the sample mean (q = Q_k(rho) + xbar_k - mu_k); with Scale true
// it knows the shape up to a factor and scales the true quantile by the
// sample mean (q = Q_k(rho) xbar_k / mu_k), as if the coefficient of
// variation were known.
type KnownShape struct {
	Data  *Data
	Scale bool
}

// KnownShapeNames are the method names of the two variants.
var KnownShapeNames = []string{"known-shape-shift", "known-shape-scale"}

// Name is known-shape-shift or known-shape-scale.
func (s KnownShape) Name() string {
	if s.Scale {
		return KnownShapeNames[1]
	}
	return KnownShapeNames[0]
}

// Decide expects the first p.Len() stores in file order, as Run samples
// them.
func (s KnownShape) Decide(p *data.Portfolio) ([]float64, error) {
	if p.Len() > len(s.Data.Stores) {
		return nil, fmt.Errorf("%s: %d instances, the data have %d stores", s.Name(), p.Len(), len(s.Data.Stores))
	}
	q := make([]float64, p.Len())
	for k, obs := range p.Obs {
		truth := s.Data.Truth(k)
		xbar := 0.0
		for _, x := range obs {
			xbar += x
		}
		xbar /= float64(len(obs))
		qk, mu := truth.Quantile(p.Ratios[k]), truth.Mean()
		if s.Scale {
			q[k] = qk * xbar / mu
		} else {
			q[k] = qk + xbar - mu
		}
	}
	return q, nil
}
