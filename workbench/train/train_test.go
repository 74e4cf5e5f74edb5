package train

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

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
	// GoMLX's progress bar on one run only: it must not change the curve.
	oa := smallOptions(t, a, 8)
	oa.ProgressBar = true
	if err := Pretrain(context.Background(), smallModel(t), oa); err != nil {
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
	if !m.Meta.Unfinished() || m.Meta.TargetSteps != 8 {
		t.Errorf("a killed run's checkpoint is not marked unfinished: steps %d of %d", m.Meta.Steps, m.Meta.TargetSteps)
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
	// The resumed run writes the same weights as the uninterrupted one
	// (variables in a fixed order, whatever order they were created in),
	// and the same metadata but for its record of the two legs.
	wa, errA := os.ReadFile(filepath.Join(a, model.WeightsFile))
	wb, errB := os.ReadFile(filepath.Join(b, model.WeightsFile))
	if errA != nil || errB != nil || !bytes.Equal(wa, wb) {
		t.Errorf("weights of the resumed run differ from the uninterrupted run's (%v, %v)", errA, errB)
	}
	saved, err := model.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := model.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	leg := model.TrainingLeg{Backend: saved.Meta.Backend, Version: saved.Meta.Version}
	if saved.Meta.Backend == "" {
		t.Error("no backend recorded")
	}
	at := func(from, to int) model.TrainingLeg { l := leg; l.From, l.To = from, to; return l }
	if want := []model.TrainingLeg{at(0, 8)}; !slices.Equal(saved.Meta.Legs, want) {
		t.Errorf("uninterrupted run's legs %+v, want %+v", saved.Meta.Legs, want)
	}
	if want := []model.TrainingLeg{at(0, 3), at(3, 8)}; !slices.Equal(resumed.Meta.Legs, want) {
		t.Errorf("resumed run's legs %+v, want %+v", resumed.Meta.Legs, want)
	}
	ma, mb := saved.Meta, resumed.Meta
	ma.Legs, mb.Legs, ma.Digest, mb.Digest = nil, nil, "", ""
	if !reflect.DeepEqual(ma, mb) {
		t.Errorf("metadata of the resumed run differs from the uninterrupted run's:\n%+v\n%+v", mb, ma)
	}
	// GoMLX's loop bookkeeping (loss metrics under random names, the loop's
	// last step) stays out of the saved model.
	for _, v := range saved.Meta.Variables {
		if strings.HasPrefix(v.Name, "/metrics/") || strings.HasPrefix(v.Name, "/trainer/") {
			t.Errorf("saved model holds loop bookkeeping %s", v.Name)
		}
	}
}

func TestObsPerEnvironmentDrawsSubRanges(t *testing.T) {
	o := smallOptions(t, "", 1)
	o.Batch, o.Obs, o.ObsPerEnvironment = 64, prior.IntRange{Min: 2, Max: 10}, true
	constant := 0
	seen := map[int]bool{}
	for step := range 4 {
		envs, err := o.Environments(step)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := o.Environments(step)
		for b, env := range envs {
			lo, hi := math.MaxInt, 0
			for k, obs := range env.Portfolio.Obs {
				n := len(obs)
				lo, hi = min(lo, n), max(hi, n)
				seen[n] = true
				if !slices.Equal(obs, again[b].Portfolio.Obs[k]) {
					t.Fatalf("step %d env %d: not reproducible", step, b)
				}
			}
			if lo < 2 || hi > 10 {
				t.Fatalf("n_k in [%d, %d], outside [2, 10]", lo, hi)
			}
			if lo == hi {
				constant++
			}
		}
	}
	// P(lo == hi) = 1/9 per environment: about 28 of 256.
	if constant < 10 || len(seen) != 9 {
		t.Errorf("%d of 256 environments with one n, n values seen %v", constant, seen)
	}
}

func TestResumeUnderOtherOptionsIsRefused(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o := smallOptions(t, dir, 8)
	o.OnStep = func(step int, _ float64) {
		if step == 3 {
			cancel()
		}
	}
	if err := Pretrain(ctx, smallModel(t), o); err == nil {
		t.Fatal("cancelled run reported success")
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.Training == nil || m.Meta.Training.Obs != [2]int{3, 6} {
		t.Fatalf("training record %+v", m.Meta.Training)
	}
	other := smallOptions(t, dir, 8)
	other.ObsPerEnvironment = true
	if err := Pretrain(context.Background(), m, other); err == nil {
		t.Fatal("resumed under other options")
	}
}

// TestPretrainingGradientMatchesFiniteDifferences: the gradient a
// pretraining step applies (the exact loss's, chained through the
// decisions) matches central differences of the exact loss, for a bias
// that moves every decision and for single weights deeper in.
func TestPretrainingGradientMatchesFiniteDifferences(t *testing.T) {
	m := smallModel(t)
	o := smallOptions(t, t.TempDir(), 1)
	envs, err := o.Environments(0)
	if err != nil {
		t.Fatal(err)
	}
	// The head's last layer starts at zero, which would zero every deeper
	// gradient: give it random weights.
	rng := rand.New(rand.NewPCG(8, 8))
	for v := range m.Context().IterVariables() {
		if v.ScopeAndName() == "/head_2/weights" {
			w := tensors.MustCopyFlatData[float32](v.MustValue())
			for i := range w {
				w[i] = float32(0.3 * rng.NormFloat64())
			}
			v.MustSetValue(tensors.FromFlatDataAndDimensions(w, v.MustValue().Shape().Dimensions...))
		}
	}
	tr, err := NewTrainer(m, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	grads, _, _, err := tr.prepare(envs, 1e-3, 32, 8)
	if err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		_, _, st, err := tr.prepare(envs, 1e-3, 32, 8)
		if err != nil {
			t.Fatal(err)
		}
		return st.Loss
	}
	for _, c := range []struct {
		name string
		idx  int
	}{{"/head_2/bias", 0}, {"/head_1/weights", 5}, {"/set_rho/weights", 17}, {"/block_0/mlp_1/weights", 40}} {
		vi := -1
		for i, v := range tr.pass.vars {
			if v.ScopeAndName() == c.name {
				vi = i
			}
		}
		if vi < 0 {
			t.Fatalf("no trainable variable %s", c.name)
		}
		v := tr.pass.vars[vi]
		orig := tensors.MustCopyFlatData[float32](v.MustValue())
		dims := v.MustValue().Shape().Dimensions
		set := func(delta float32) {
			x := slices.Clone(orig)
			x[c.idx] += delta
			v.MustSetValue(tensors.FromFlatDataAndDimensions(x, dims...))
		}
		const h = 1e-2
		set(h)
		up := loss()
		set(-h)
		down := loss()
		set(0)
		fd := (up - down) / (2 * h)
		got := float64(tensors.MustCopyFlatData[float32](grads[vi])[c.idx])
		if math.Abs(got-fd) > 0.05*math.Abs(fd)+1e-5 || math.Abs(fd) < 1e-4 {
			t.Errorf("%s[%d]: step gradient %.6g, central difference %.6g (want them equal and non-trivial)", c.name, c.idx, got, fd)
		}
	}
}

// TestShortPretrainingLowersTheLoss: 60 steps on normal-normal lower the
// mean loss of the last 10 steps below that of the first 10.
func TestShortPretrainingLowersTheLoss(t *testing.T) {
	dir := t.TempDir()
	o := smallOptions(t, dir, 60)
	o.LearningRate, o.CheckpointEvery = 3e-3, 0
	if err := Pretrain(context.Background(), smallModel(t), o); err != nil {
		t.Fatal(err)
	}
	c, err := readCurve(filepath.Join(dir, CurveFile), 60)
	if err != nil {
		t.Fatal(err)
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	if first, last := mean(c[:10]), mean(c[50:]); !(last < first) {
		t.Errorf("loss did not fall: first 10 steps %.4f, last 10 %.4f", first, last)
	}
}

// A model saved before legs were recorded keeps its earlier steps as one
// leg of unknown backend when it is resumed.
func TestResumingAModelWithoutLegsRecordsTheUnknownFirstLeg(t *testing.T) {
	dir := t.TempDir()
	if err := Pretrain(context.Background(), smallModel(t), smallOptions(t, dir, 3)); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Meta.Legs = nil
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if m, err = model.Load(dir); err != nil {
		t.Fatal(err)
	}
	if err := Pretrain(context.Background(), m, smallOptions(t, dir, 5)); err != nil {
		t.Fatal(err)
	}
	want := []model.TrainingLeg{{To: 3}, {From: 3, To: 5, Backend: m.Meta.Backend, Version: m.Meta.Version}}
	if !slices.Equal(m.Meta.Legs, want) {
		t.Errorf("legs %+v, want %+v", m.Meta.Legs, want)
	}
}
