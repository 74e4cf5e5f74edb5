package baseline

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
)

// countPortfolio draws k instances of n counts whose rates are gamma
// (shape 2.8, mean 3), a share zero of them set to 0 (never sell).
func countPortfolio(seed uint64, k, n int, zero float64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := &data.Portfolio{Source: "counts"}
	for i := range k {
		rate := distuv.Gamma{Alpha: 2.8, Beta: 2.8 / 3, Src: rng}.Rand()
		if rng.Float64() < zero {
			rate = 0
		}
		o := make([]float64, n)
		for j := range o {
			if rate > 0 {
				o[j] = distuv.Poisson{Lambda: rate, Src: rng}.Rand()
			}
		}
		p.IDs = append(p.IDs, strconv.Itoa(i))
		p.Obs = append(p.Obs, o)
		p.Ratios = append(p.Ratios, 0.8)
	}
	return p
}

func TestGammaPoissonTestTellsAGammaPriorFromIntermittentDemand(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		r, err := GammaPoissonTest{Seed: seed}.Run(countPortfolio(seed, 1000, 6, 0))
		if err != nil {
			t.Fatal(err)
		}
		if r.PValue <= 0.05 || r.Z > 3 {
			t.Errorf("seed %d: gamma rates rejected: %+v", seed, r)
		}
		r, err = GammaPoissonTest{Seed: seed}.Run(countPortfolio(seed, 1000, 6, 0.4))
		if err != nil {
			t.Fatal(err)
		}
		if r.PValue > 0.05 || r.LogRatio < 50 || r.Z < 10 {
			t.Errorf("seed %d: 40%% never-selling products not rejected: %+v", seed, r)
		}
	}
}

// The fits see only each instance's total and n_k: moving counts
// between an instance's days changes nothing.
func TestGammaPoissonTestUsesOnlyTotals(t *testing.T) {
	p := countPortfolio(7, 200, 5, 0.2)
	q := &data.Portfolio{Source: p.Source, IDs: p.IDs, Ratios: p.Ratios}
	for _, o := range p.Obs {
		s := 0.0
		for _, x := range o {
			s += x
		}
		moved := make([]float64, len(o))
		moved[len(o)-1] = s
		q.Obs = append(q.Obs, moved)
	}
	a, errA := GammaPoissonTest{Seed: 3}.Run(p)
	b, errB := GammaPoissonTest{Seed: 3}.Run(q)
	if errA != nil || errB != nil || a != b {
		t.Errorf("%+v (%v) against %+v (%v)", a, errA, b, errB)
	}
}

func TestGammaPoissonTestRefusesNonCounts(t *testing.T) {
	p := countPortfolio(1, 20, 3, 0)
	p.Obs[4][1] = 2.5
	if _, err := (GammaPoissonTest{}).Run(p); err == nil || !strings.Contains(err.Error(), "integer") {
		t.Errorf("non-integer data: err %v", err)
	}
}
