package baseline

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/data"
)

// BinUnitsSuffix marks a method run in bin units ("transformer+bins").
const BinUnitsSuffix = "+bins"

// BinUnits runs Policy on a binned portfolio expressed in each instance's
// bin units (data.Portfolio.BinUnits) and maps its decisions back. A policy
// that pools scale-normalised data across instances (one scale per
// portfolio, as the Transformer does) then pools instances of comparable
// spread; per-instance quantile rules (SAA) are unchanged by it.
type BinUnits struct{ Policy Policy }

// Name is the inner policy's name with BinUnitsSuffix.
func (b BinUnits) Name() string { return b.Policy.Name() + BinUnitsSuffix }

// Unwrap returns the inner policy.
func (b BinUnits) Unwrap() Policy { return b.Policy }

// Decide needs p.Support.
func (b BinUnits) Decide(p *data.Portfolio) ([]float64, error) {
	binned, origin, width, err := p.BinUnits()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	q, err := b.Policy.Decide(binned)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(q))
	for k, v := range q {
		out[k] = origin[k] + width[k]*v
	}
	return out, nil
}
