package rossmann

import (
	"math"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

func TestKnownShapeMovesTheTrueQuantileByTheMeanError(t *testing.T) {
	d := testData(t)
	const k, rho, c = 5, 0.95, 300.0
	p := &data.Portfolio{IDs: d.Stores[:k], Obs: make([][]float64, k), Ratios: make([]float64, k)}
	for s := range k {
		mu := d.Truth(s).Mean()
		p.Obs[s], p.Ratios[s] = []float64{mu - c, mu + 3*c}, rho // sample mean mu + c
	}
	shift, err := KnownShape{Data: d}.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	scale, _ := KnownShape{Data: d, Scale: true}.Decide(p)
	for s := range k {
		tr := d.Truth(s)
		qt, mu := tr.Quantile(rho), tr.Mean()
		if math.Abs(shift[s]-(qt+c)) > 1e-9*qt || math.Abs(scale[s]-qt*(mu+c)/mu) > 1e-9*qt {
			t.Errorf("store %d: shift %v scale %v, want %v and %v", s, shift[s], scale[s], qt+c, qt*(mu+c)/mu)
		}
	}
	big := &data.Portfolio{IDs: make([]string, len(d.Stores)+1)}
	if _, err := (KnownShape{Data: d}).Decide(big); err == nil {
		t.Error("more instances than stores accepted")
	}
}
