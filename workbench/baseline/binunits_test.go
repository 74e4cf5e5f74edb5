package baseline

import (
	"math"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

// SAA's order statistic commutes with each instance's affine map to bin
// units, so SAA in bin units is SAA.
func TestBinUnitsMapsDecisionsBack(t *testing.T) {
	p := &data.Portfolio{Source: "bins", IDs: []string{"a", "b"}, Ratios: []float64{0.9, 0.3},
		Obs:     [][]float64{{5, 9, 13, 5}, {300, 100, 200}},
		Support: [][]float64{{5, 7, 9, 11, 13}, {100, 200, 300}}}
	pol := BinUnits{Policy: SAA{}}
	if pol.Name() != "saa+bins" {
		t.Errorf("name %q", pol.Name())
	}
	got, err := pol.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := SAA{}.Decide(p)
	for k := range want {
		if math.Abs(got[k]-want[k]) > 1e-12*want[k] {
			t.Errorf("instance %d: %v in bin units, %v directly", k, got[k], want[k])
		}
	}
	p.Support = nil
	if _, err := pol.Decide(p); err == nil || !strings.Contains(err.Error(), "saa+bins") {
		t.Errorf("continuous data: got %v, want an error naming the method", err)
	}
}
