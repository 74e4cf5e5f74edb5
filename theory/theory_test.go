package theory

import (
	"math"
	"testing"
)

func TestFitRateRecoversAnExactPowerLaw(t *testing.T) {
	k := []float64{10, 30, 100, 300, 1000}
	y := make([]float64, len(k))
	for i := range k {
		y[i] = 2.5 * math.Pow(k[i], -0.5)
	}
	r, err := FitRate(k, y, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Slope+0.5) > 1e-12 || math.Abs(r.Intercept-math.Log(2.5)) > 1e-12 || r.SE > 1e-12 {
		t.Errorf("fit %+v, want slope -0.5, intercept log 2.5, se 0", r)
	}
}

func TestFitRateIntervalMatchesTheTTable(t *testing.T) {
	// Residuals +e, -e, +e, -e on equally spaced log x: slope known in closed form.
	x := []float64{1, math.E, math.E * math.E, math.Pow(math.E, 3)}
	y := []float64{math.Exp(0.1), math.Exp(1 - 0.1), math.Exp(2 + 0.1), math.Exp(3 - 0.1)}
	r, err := FitRate(x, y, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// lx = 0..3, ly = lx + (0.1, -0.1, 0.1, -0.1): slope = 1 - 0.04 = 0.96.
	if math.Abs(r.Slope-0.96) > 1e-12 {
		t.Errorf("slope %v, want 0.96", r.Slope)
	}
	// t_{0.975, 2} = 4.302652729749464 (tables).
	if half := (r.Hi - r.Lo) / 2; math.Abs(half-4.302652729749464*r.SE) > 1e-9 {
		t.Errorf("half-width %v, want 4.3027 * %v", half, r.SE)
	}
}

func TestFitRateRejectsBadInput(t *testing.T) {
	for _, c := range []struct{ x, y []float64 }{
		{[]float64{1, 2}, []float64{1, 2}},
		{[]float64{1, 2, 3}, []float64{1, 0, 2}},
		{[]float64{1, 2, 3}, []float64{1, math.NaN(), 2}},
		{[]float64{5, 5, 5}, []float64{1, 2, 3}},
		{[]float64{1, 2, 3}, []float64{1, 2}},
	} {
		if _, err := FitRate(c.x, c.y, 0.95); err == nil {
			t.Errorf("FitRate(%v, %v): no error", c.x, c.y)
		}
	}
	if _, err := FitRate([]float64{1, 2, 3}, []float64{1, 2, 3}, 1); err == nil {
		t.Error("level 1: no error")
	}
}

func TestTermsAreMonotoneAndTheBoundIsTheMinimum(t *testing.T) {
	b := Bound{Floor: 0.05, Pretrain: 0.1, FinetuneC: 2, SelectionC: 0.5, Candidates: 30, ValFraction: 0.2}
	prev := math.Inf(1)
	for _, k := range []float64{1, 3, 10, 30, 100, 1e3, 1e4, 1e5} {
		tm := b.At(k)
		if tm.Finetune >= prev {
			t.Errorf("finetuning term not decreasing at K=%v", k)
		}
		prev = tm.Finetune
		want := b.Floor + math.Min(b.Pretrain, tm.Finetune) + tm.Selection
		if tm.Bound != want {
			t.Errorf("K=%v: bound %v, want %v", k, tm.Bound, want)
		}
	}
	if g := PretrainGeneralization(1, 100, 1e6); math.Abs(g-math.Sqrt(100*math.Log(1e6)/1e6)) > 1e-15 {
		t.Errorf("pretraining term %v", g)
	}
	if PretrainGeneralization(1, 100, 1e6) <= PretrainGeneralization(1, 100, 1e7) {
		t.Error("pretraining term does not fall with the synthetic sample size")
	}
}

func TestCrossoverIsWhereTheTermsMeet(t *testing.T) {
	b := Bound{Pretrain: 0.1, FinetuneC: 2}
	k := b.Crossover()
	if math.Abs(FinetuneGeneralization(b.FinetuneC, k)-b.Pretrain) > 1e-9 {
		t.Errorf("at crossover K=%v the finetuning term is %v, want %v", k, FinetuneGeneralization(b.FinetuneC, k), b.Pretrain)
	}
	if !math.IsInf(Bound{Pretrain: 0, FinetuneC: 1}.Crossover(), 1) {
		t.Error("a perfect pretrained model: the crossover should be +Inf")
	}
}

func TestCalibrateRecoversItsOwnModel(t *testing.T) {
	k := []float64{10, 30, 100, 300, 1000}
	scratch := make([]float64, len(k))
	pre := make([]float64, len(k))
	for i := range k {
		scratch[i] = 0.04 + 1.5*FinetuneGeneralization(1, k[i])
		pre[i] = 0.04 + 0.2
	}
	b, err := Calibrate(k, scratch, pre)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(b.Floor-0.04) > 1e-12 || math.Abs(b.FinetuneC-1.5) > 1e-12 || math.Abs(b.Pretrain-0.2) > 1e-12 {
		t.Errorf("calibrated %+v, want floor 0.04, c 1.5, pretrain 0.2", b)
	}
	if _, err := Calibrate(k[:1], scratch[:1], pre[:1]); err == nil {
		t.Error("one K: no error")
	}
}
