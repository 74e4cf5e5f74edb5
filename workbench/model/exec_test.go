package model

import (
	"slices"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

// Deciding more shapes of portfolio than one executable compiles starts
// a new executable instead of failing, and the new one decides as the
// old did.
func TestMoreShapesThanOneExecutableKeeps(t *testing.T) {
	m := randomised(t, DefaultConfig())
	predict := func(p *data.Portfolio) []float32 {
		t.Helper()
		q, err := m.Predict(m.NewBatch([]*data.Portfolio{p}, 0, 0))
		if err != nil {
			t.Fatalf("K = %d: %v", p.Len(), err)
		}
		return q
	}
	first := testPortfolio(2, 5, 4)
	want := predict(first)
	for k := 6; k < 6+maxShapes+4; k++ {
		predict(testPortfolio(uint64(k), k, 4))
	}
	if got := predict(first); !slices.Equal(got, want) {
		t.Errorf("after %d shapes the first portfolio's decisions changed: %v, were %v", maxShapes+4, got, want)
	}
}
