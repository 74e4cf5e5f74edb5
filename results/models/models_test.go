package models

import (
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

func TestDefaultModelLoadsAndDecides(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.Prior == "" || m.Meta.Steps == 0 || m.Config.Inducing == 0 {
		t.Errorf("shipped model meta %+v: want a prior, steps and inducing points", m.Meta)
	}
	p := &data.Portfolio{IDs: []string{"a", "b", "c"}, Obs: [][]float64{{3, 5, 4}, {10, 12}, {7}}, Ratios: []float64{0.8, 0.8, 0.5}}
	q, err := m.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range q {
		if !(v >= 0) {
			t.Errorf("instance %d: decision %v", i, v)
		}
	}
}

func TestShippedNormalNormalModel(t *testing.T) {
	m, err := Shipped("normal-normal")
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.Prior != "normal-normal" {
		t.Errorf("prior %q, want normal-normal", m.Meta.Prior)
	}
	r, err := Shipped("retail-daily")
	if err != nil {
		t.Fatal(err)
	}
	if r.Meta.Prior != "retail-daily" || r.Config.Inducing == 0 {
		t.Errorf("retail-daily meta %+v", r.Meta)
	}
	if _, err := Shipped("nope"); err == nil {
		t.Error("unknown shipped model: no error")
	}
}
