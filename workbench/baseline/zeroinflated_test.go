package baseline

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
)

// zeroInflatedPortfolio draws k instances of n counts: rate 0 with
// probability zero, else Gamma(shape, rate).
func zeroInflatedPortfolio(k, n int, zero, shape, rate float64, seed uint64) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := &data.Portfolio{Source: "zero-inflated"}
	for i := range k {
		lambda := 0.0
		if rng.Float64() >= zero {
			lambda = distuv.Gamma{Alpha: shape, Beta: rate, Src: rng}.Rand()
		}
		o := make([]float64, n)
		for j := range o {
			if lambda > 0 {
				o[j] = distuv.Poisson{Lambda: lambda, Src: rng}.Rand()
			}
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.6)
	}
	return p
}

// On a large portfolio the fit recovers the share of never-sellers and
// the sellers' gamma; without never-sellers the share is about zero and
// the decisions are eb-gamma-poisson-ml's.
func TestZeroInflatedEBRecoversItsPrior(t *testing.T) {
	p := zeroInflatedPortfolio(20000, 6, 0.4, 2.8, 2.8/3, 1)
	h, zero, err := ZeroInflatedEB{}.Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("share %.4f shape %.3f rate %.3f", zero, h.Shape, h.Rate)
	if math.Abs(zero-0.4) > 0.015 || math.Abs(h.Shape/2.8-1) > 0.1 || math.Abs(h.Shape/h.Rate/3-1) > 0.03 {
		t.Errorf("fit share %.4f, shape %.3f, mean %.3f; want 0.4, 2.8, 3", zero, h.Shape, h.Shape/h.Rate)
	}
	q, err := ZeroInflatedEB{}.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	for k, o := range p.Obs {
		if q[k] < 0 || q[k] != math.Trunc(q[k]) {
			t.Fatalf("instance %d: order %v, not a count", k, q[k])
		}
		if allZero := floats.Max(o) == 0; allZero && q[k] != 0 {
			t.Fatalf("instance %d never sold in 6 days, 40%% never-sellers: order %v, want 0", k, q[k])
		}
	}

	p = zeroInflatedPortfolio(5000, 5, 0, 2, 0.5, 2)
	_, zero, err = ZeroInflatedEB{}.Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	if zero > 0.01 {
		t.Errorf("gamma-Poisson portfolio: share of never-sellers %.4f, want about 0", zero)
	}
	qz, err := ZeroInflatedEB{}.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	qg, err := EmpiricalBayes{Family: GammaPoissonFamily, Method: MarginalLikelihood}.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for k := range qz {
		if qz[k] != qg[k] {
			differ++
		}
	}
	if differ > p.Len()/100 {
		t.Errorf("gamma-Poisson portfolio: %d of %d orders differ from eb-gamma-poisson-ml's", differ, p.Len())
	}
}

func TestZeroInflatedEBBadInput(t *testing.T) {
	p := zeroInflatedPortfolio(50, 4, 0.3, 2, 1, 3)
	p.Obs[7][2] = 1.5
	if _, err := (ZeroInflatedEB{}).Decide(p); err == nil || !strings.Contains(err.Error(), "zero-inflated") || !strings.Contains(err.Error(), `"7"`) {
		t.Errorf("non-integer count: error %v, want one naming the source and instance 7", err)
	}
	p = zeroInflatedPortfolio(50, 4, 1, 2, 1, 3)
	if _, err := (ZeroInflatedEB{}).Decide(p); err == nil || !strings.Contains(err.Error(), "zero") {
		t.Errorf("all zeros: error %v", err)
	}
}

// Sellers of one rate (no gamma spread) drive the fitted shape without
// bound; the decisions stay those of a Poisson seller, finite counts.
func TestZeroInflatedEBHomogeneousSellers(t *testing.T) {
	p := zeroInflatedPortfolio(2000, 6, 0.4, 1e9, 1e9/3, 4)
	h, zero, err := ZeroInflatedEB{}.Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decide(ZeroInflatedEB{}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("share %.4f shape %.3g mean %.4f", zero, h.Shape, h.Shape/h.Rate)
	want := dist.Poisson{Lambda: 3}.Quantile(0.6)
	for k, o := range p.Obs {
		if floats.Max(o) > 0 && q[k] != want {
			t.Fatalf("instance %d (%v): order %v, want the Poisson(3) 0.6-quantile %v", k, o, q[k], want)
		}
	}
}

// The likelihood gain of a share of never-sellers is large on
// intermittent counts and within its 1% level (2.71) on gamma-Poisson
// counts, zeros and all.
func TestZeroInflationLogRatio(t *testing.T) {
	lr, err := ZeroInflationLogRatio(zeroInflatedPortfolio(1000, 6, 0.4, 2.8, 2.8/3, 5))
	if err != nil || lr < 50 {
		t.Errorf("intermittent counts: log ratio %.2f, %v; want > 50", lr, err)
	}
	over := 0
	for seed := range uint64(10) {
		lr, err := ZeroInflationLogRatio(zeroInflatedPortfolio(1000, 5, 0, 0.8, 0.8, 10+seed))
		if err != nil {
			t.Fatal(err)
		}
		if lr > 2.71 {
			over++
		}
	}
	if over > 1 {
		t.Errorf("gamma-Poisson counts of mean 1: %d of 10 log ratios above 2.71", over)
	}
}
