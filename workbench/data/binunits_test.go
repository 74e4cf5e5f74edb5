package data

import (
	"slices"
	"strings"
	"testing"
)

func TestBinUnits(t *testing.T) {
	p := &Portfolio{Source: "bins.csv", IDs: []string{"a", "b"}, Ratios: []float64{0.9, 0.5},
		Obs:     [][]float64{{10, 30, 25}, {100}},
		Support: [][]float64{{10, 20, 30}, {40, 70, 100}}}
	b, origin, width, err := p.BinUnits()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Obs[0], []float64{0, 2, 1.5}) || !slices.Equal(b.Obs[1], []float64{2}) {
		t.Errorf("observations in bin units: %v", b.Obs)
	}
	if !slices.Equal(b.Support[1], []float64{0, 1, 2}) {
		t.Errorf("support in bin units: %v", b.Support[1])
	}
	if !slices.Equal(origin, []float64{10, 40}) || !slices.Equal(width, []float64{10, 30}) {
		t.Errorf("origin %v width %v", origin, width)
	}
	// Widths 10 and 30, mean 20: a bin-unit cost times the weight is the
	// cost in the data's units over 20.
	if !slices.Equal(b.CostWeights, []float64{0.5, 1.5}) {
		t.Errorf("cost weights %v", b.CostWeights)
	}
	if err := b.Validate(); err != nil {
		t.Error(err)
	}
	if p.Obs[0][0] != 10 {
		t.Error("BinUnits changed its input")
	}
	p.CostWeights = []float64{2, 1}
	if b, _, _, _ = p.BinUnits(); !slices.Equal(b.CostWeights, []float64{1, 1.5}) {
		t.Errorf("cost weights do not carry over: %v", b.CostWeights)
	}
}

func TestBinUnitsRejects(t *testing.T) {
	ok := func() *Portfolio {
		return &Portfolio{Source: "bins.csv", IDs: []string{"a"}, Ratios: []float64{0.9},
			Obs: [][]float64{{10}}, Support: [][]float64{{10, 20}}}
	}
	for name, c := range map[string]struct {
		edit func(*Portfolio)
		want string
	}{
		"no support":  {func(p *Portfolio) { p.Support = nil }, "need a per-instance support"},
		"one point":   {func(p *Portfolio) { p.Support[0] = []float64{10} }, `instance "a"`},
		"decreasing":  {func(p *Portfolio) { p.Support[0] = []float64{20, 10} }, "increasing"},
		"below":       {func(p *Portfolio) { p.Obs[0][0] = 5 }, "below the support"},
		"bad weight":  {func(p *Portfolio) { p.CostWeights = []float64{0} }, "cost weight"},
		"weight size": {func(p *Portfolio) { p.CostWeights = []float64{1, 1} }, "2 cost weights for 1"},
	} {
		p := ok()
		c.edit(p)
		_, _, _, err := p.BinUnits()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bins.csv") {
			t.Errorf("%s: got %v, want an error naming the file and saying %q", name, err, c.want)
		}
	}
}
