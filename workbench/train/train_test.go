package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
)

func smallOptions(t *testing.T, dir string, steps int) Options {
	t.Helper()
	p, err := prior.Lookup("normal-normal")
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions(p)
	o.Steps, o.Batch, o.Instances, o.Warmup, o.CheckpointEvery, o.Dir = steps, 4, prior.IntRange{Min: 8, Max: 24}, 2, 3, dir
	o.Obs = prior.IntRange{Min: 3, Max: 6}
	return o
}

func smallModel(t *testing.T) *model.Model {
	t.Helper()
	cfg := model.Config{Width: 16, Blocks: 1, Heads: 2, MLPRatio: 2}
	m, err := model.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func curve(t *testing.T, dir string) []float64 {
	t.Helper()
	c, err := readCurve(filepath.Join(dir, CurveFile), 8)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSameSeedSameCurveAndResumeContinuesIt(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := Pretrain(context.Background(), smallModel(t), smallOptions(t, a, 8)); err != nil {
		t.Fatal(err)
	}
	// Kill b after its fifth step (checkpoints every 3), then resume.
	ctx, cancel := context.WithCancel(context.Background())
	ob := smallOptions(t, b, 8)
	ob.OnStep = func(step int, _ float64) {
		if step == 4 {
			cancel()
		}
	}
	if err := Pretrain(ctx, smallModel(t), ob); err == nil {
		t.Fatal("cancelled run reported success")
	}
	m, err := model.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.Steps != 3 {
		t.Fatalf("last checkpoint at step %d, want 3", m.Meta.Steps)
	}
	if err := Pretrain(context.Background(), m, smallOptions(t, b, 8)); err != nil {
		t.Fatal(err)
	}
	ca, cb := curve(t, a), curve(t, b)
	for i := range ca {
		if math.Abs(ca[i]-cb[i]) > 1e-9*ca[i] {
			t.Fatalf("step %d: loss %v uninterrupted, %v resumed", i+1, ca[i], cb[i])
		}
	}
	if slices.ContainsFunc(ca, func(x float64) bool { return !(x >= 1) }) {
		t.Errorf("loss below the oracle's: %v", ca)
	}
	if _, err := os.Stat(filepath.Join(a, model.WeightsFile)); err != nil {
		t.Error(err)
	}
}
