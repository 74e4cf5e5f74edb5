package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
)

func realLike(seed uint64, k, n int) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 4))
	p := &data.Portfolio{Source: "real"}
	for i := range k {
		mu := 30 * rng.ExpFloat64()
		obs := make([]float64, n)
		for j := range obs {
			obs[j] = mu * rng.ExpFloat64() // heavy, skewed demand
		}
		p.IDs = append(p.IDs, strconv.Itoa(i))
		p.Obs = append(p.Obs, obs)
		p.Ratios = append(p.Ratios, 0.9)
	}
	return p
}

func values(m *model.Model) map[string][]float32 {
	out := map[string][]float32{}
	for v := range m.Context().IterVariables() {
		t := v.MustValue()
		if t.DType().String() == "Float32" {
			out[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](t)
		}
	}
	return out
}

func TestFinetuneFreezesWhatItShould(t *testing.T) {
	p := realLike(1, 60, 6)
	for _, params := range []string{ParamsHead, ParamsAdapters, ParamsAll} {
		m := smallModel(t)
		if _, err := m.Decide(p); err != nil {
			t.Fatal(err)
		}
		o := DefaultFinetuneOptions()
		o.Steps, o.Params, o.Patience, o.LearningRate = 20, params, 0, 1e-2
		if params == ParamsAdapters {
			if err := m.EnableAdapters(2); err != nil {
				t.Fatal(err)
			}
			m.Decide(p) // create the adapters before the "before" picture
		}
		before := values(m)
		res, err := Finetune(context.Background(), m, p, o)
		if err != nil {
			t.Fatal(err)
		}
		after := values(m)
		changed, frozen := 0, 0
		for name, b := range before {
			on := trainedBy(params, name, m.Config.Blocks)
			same := slices.Equal(b, after[name])
			if !on && !same && !isOptimizerVar(name) {
				t.Errorf("%s: frozen variable %s changed", params, name)
			}
			if on && !same {
				changed++
			}
			if !on && !isOptimizerVar(name) {
				frozen++
			}
		}
		if res.BestStep > 0 && changed == 0 {
			t.Errorf("%s: best step %d but no trainable variable changed", params, res.BestStep)
		}
		if params != ParamsAll && frozen == 0 {
			t.Errorf("%s: nothing frozen", params)
		}
		// Without an improving step the start weights are kept exactly.
		if res.BestStep == 0 && changed != 0 {
			t.Errorf("%s: no step improved, yet %d variables changed", params, changed)
		}
	}
}

// trainedBy is, written out independently of the code under test, which
// variables each --params setting trains: all the model's own (adapters
// exist only with --params adapters); the head (norm_head, head_1,
// head_2) and the last block; or the adapters alone.
func trainedBy(params, name string, blocks int) bool {
	if !model.IsModelVariable(name) {
		return false
	}
	adapter := strings.HasSuffix(name, "/adapter_a") || strings.HasSuffix(name, "/adapter_b")
	switch params {
	case ParamsAll:
		return !adapter
	case ParamsHead:
		for _, top := range []string{"/norm_head/", "/head_1/", "/head_2/", "/block_" + strconv.Itoa(blocks-1) + "/"} {
			if strings.HasPrefix(name, top) {
				return !adapter
			}
		}
		return false
	case ParamsAdapters:
		return adapter
	}
	return false
}

func isOptimizerVar(name string) bool {
	return len(name) > 11 && name[:11] == "/optimizers" || name == "/global_step"
}

func TestFinetuneImprovesValidationCost(t *testing.T) {
	p := realLike(2, 200, 8)
	m := smallModel(t)
	o := DefaultFinetuneOptions()
	o.Steps, o.LearningRate, o.Patience = 60, 3e-3, 0
	res, err := Finetune(context.Background(), m, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if !(res.BestVal < res.StartVal) {
		t.Errorf("finetuning did not lower the held-out cost: start %v, best %v", res.StartVal, res.BestVal)
	}
	one := &data.Portfolio{IDs: []string{"a"}, Obs: [][]float64{{3}}, Ratios: []float64{0.5}}
	if _, err := Finetune(context.Background(), smallModel(t), one, o); err == nil {
		t.Error("portfolio without any splittable instance accepted")
	}
}

func TestKilledFinetuneResumesToTheSameWeights(t *testing.T) {
	// Splits drawn afresh every step, and a pool cycled from step 16 on.
	for _, pool := range []int{0, 16} {
		t.Run(fmt.Sprintf("pool=%d", pool), func(t *testing.T) { testResume(t, pool) })
	}
}

func testResume(t *testing.T, pool int) {
	p := realLike(3, 40, 6)
	opts := func(dir string) FinetuneOptions {
		o := DefaultFinetuneOptions()
		o.Steps, o.EvalEvery, o.Patience, o.LearningRate, o.SplitPool = 40, 10, 0, 1e-2, pool
		o.Dir, o.CheckpointEvery = dir, 20
		return o
	}
	whole := smallModel(t)
	resWhole, err := Finetune(context.Background(), whole, p, opts(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	killed := smallModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(dir)
	o.OnStep = func(step int) {
		if step == 29 {
			cancel() // a kill between the checkpoint at 20 and the end
		}
	}
	if _, err := Finetune(ctx, killed, p, o); err == nil {
		t.Fatal("cancelled finetuning: no error")
	}
	resumed, err := model.Load(filepath.Join(dir, CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	o = opts(dir)
	o.Resume = true
	resRes, err := Finetune(context.Background(), resumed, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if resRes.Steps != resWhole.Steps || resRes.BestStep != resWhole.BestStep || resRes.BestVal != resWhole.BestVal ||
		resRes.Trainable != resWhole.Trainable {
		t.Errorf("resumed run %+v, uninterrupted %+v", resRes, resWhole)
	}
	a, b := values(whole), values(resumed)
	for name, va := range a {
		// Adam's moments, and GoMLX's loop bookkeeping (moving averages of
		// the loss, never saved), are not the model.
		if strings.Contains(name, "AdamOptimizer") || strings.HasPrefix(name, "/metrics/") || strings.HasPrefix(name, "/trainer/") {
			continue
		}
		if !slices.Equal(va, b[name]) {
			t.Fatalf("variable %s differs between the resumed and the uninterrupted run", name)
		}
	}
	// A checkpoint is never resumed under other options.
	o = opts(dir)
	o.Resume, o.Seed = true, 99
	if _, err := Finetune(context.Background(), resumed, p, o); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("resume with another seed: %v", err)
	}
	// Nor on other data of the same name and counts (every value times 3).
	p3 := *p
	p3.Obs = nil
	for _, obs := range p.Obs {
		x := slices.Clone(obs)
		for i := range x {
			x[i] *= 3
		}
		p3.Obs = append(p3.Obs, x)
	}
	o = opts(dir)
	o.Resume = true
	if _, err := Finetune(context.Background(), resumed, &p3, o); err == nil || !strings.Contains(err.Error(), "other data") {
		t.Errorf("resume on data multiplied by 3: %v", err)
	}
}

func TestBestWeightsSurviveSeveralCheckpoints(t *testing.T) {
	// A best snapshot that stays best across checkpoints is set into the
	// model and taken out again at each one; the model must end with those
	// weights, intact (GoMLX frees a variable's old tensor when it is set).
	p := realLike(6, 40, 6)
	m := smallModel(t)
	if _, err := m.Decide(p); err != nil {
		t.Fatal(err)
	}
	before := values(m)
	o := DefaultFinetuneOptions()
	o.Steps, o.EvalEvery, o.Patience, o.LearningRate = 40, 10, 0, 10 // a rate that only makes things worse
	o.Dir, o.CheckpointEvery = t.TempDir(), 10
	res, err := Finetune(context.Background(), m, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.BestStep != 0 {
		t.Fatalf("best at step %d: the test needs a run that never improves", res.BestStep)
	}
	after := values(m)
	for name, v := range before {
		if !strings.Contains(name, "AdamOptimizer") && !slices.Equal(v, after[name]) {
			t.Fatalf("variable %s is not the best (starting) weights", name)
		}
	}
	if err := m.Save(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestFinetuneUsesItsLearningRateNotThePretrainedOne(t *testing.T) {
	// A pretrained model carries its schedule's last rate in the optimizer's
	// learning-rate variable; finetuning must not inherit it.
	p := realLike(5, 30, 6)
	m := smallModel(t)
	optimizers.LearningRateVarWithValue(m.Context(), dtypes.Float32, 1e-6).MustSetValue(tensors.FromScalar(float32(1e-6)))
	o := DefaultFinetuneOptions()
	o.Steps, o.Patience, o.LearningRate = 5, 0, 2e-3
	if _, err := Finetune(context.Background(), m, p, o); err != nil {
		t.Fatal(err)
	}
	lr := optimizers.LearningRateVarWithValue(m.Context(), dtypes.Float32, 0)
	if got := tensors.ToScalar[float32](lr.MustValue()); got != float32(2e-3) {
		t.Errorf("learning rate during finetuning %v, want 2e-3", got)
	}
}

// Held-out points count with their instance's cost weight: the loss is the
// weighted mean cost, and tensors puts the weights in the mask.
func TestHeldOutCostIsTheWeightedMean(t *testing.T) {
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	exec := graph.MustNewExec(b, heldOutCost)
	q := tensors.FromFlatDataAndDimensions([]float32{1, 2}, 1, 2)
	held := tensors.FromFlatDataAndDimensions([]float32{0, 3, 2, 5}, 1, 2, 2)
	mask := tensors.FromFlatDataAndDimensions([]float32{2, 2, 0.5, 0}, 1, 2, 2)
	ratio := tensors.FromFlatDataAndDimensions([]float32{0.9, 0.5}, 1, 2)
	got := tensors.ToScalar[float32](exec.MustExec(q, held, mask, ratio)[0])
	// Instance 0: overage 0.1 x 1 at 0, underage 0.9 x 2 at 3, weight 2;
	// instance 1: cost 0 at its decision, weight 0.5.
	want := (2*(0.1+1.8) + 0.5*0) / (2 + 2 + 0.5)
	if math.Abs(float64(got)-want) > 1e-6 {
		t.Errorf("weighted held-out cost %v, want %v", got, want)
	}

	p := realLike(1, 4, 5)
	p.CostWeights = []float64{1, 2, 3, 4}
	f := &finetuner{m: smallModel(t), p: p, val: make([]bool, 4), maxN: 5}
	ss := f.splits(rand.New(rand.NewPCG(1, 2)), 1)
	args, _, total := f.tensors(ss, false, false)
	m := tensors.MustCopyFlatData[float32](args[len(args)-2].(*tensors.Tensor))
	wantTotal := 0.0
	for k, h := range ss[0].held {
		wantTotal += p.CostWeights[k] * float64(len(h))
		for j := range 5 {
			if w := m[k*5+j]; (j < len(h) && w != float32(p.CostWeights[k])) || (j >= len(h) && w != 0) {
				t.Errorf("instance %d, slot %d: mask %v", k, j, w)
			}
		}
	}
	if total != wantTotal || total == 0 {
		t.Errorf("mask total %v, want %v", total, wantTotal)
	}
}

// TestFinetuneTrainsEveryEnsembleMember: finetuning an ensemble trains
// the same groups in each member, on the members' mean decision, and
// pretraining refuses to continue one.
func TestFinetuneTrainsEveryEnsembleMember(t *testing.T) {
	p := realLike(5, 60, 6)
	cfg := model.Config{Width: 16, Blocks: 1, Heads: 2, MLPRatio: 2}
	var members []*model.Model
	for seed := range uint64(2) {
		m, err := model.New(cfg, seed+1)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	e, err := model.Ensemble(members...)
	if err != nil {
		t.Fatal(err)
	}
	single := smallModel(t)
	o := DefaultFinetuneOptions()
	o.Steps, o.Params, o.Patience, o.LearningRate = 10, ParamsHead, 0, 1e-2
	before := values(e)
	res, err := Finetune(context.Background(), e, p, o)
	if err != nil {
		t.Fatal(err)
	}
	one, err := Finetune(context.Background(), single, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trainable != 2*one.Trainable {
		t.Errorf("ensemble of two trains %d variables, a single model %d", res.Trainable, one.Trainable)
	}
	if res.BestStep == 0 {
		t.Fatalf("no finetuning step improved on the start; the test needs one that does")
	}
	after := values(e)
	for _, name := range []string{"/head_1/weights", "/member_1/head_1/weights"} {
		if slices.Equal(before[name], after[name]) {
			t.Errorf("%s did not change (best step %d)", name, res.BestStep)
		}
	}
	opts := DefaultOptions(nil)
	opts.Dir = t.TempDir()
	if err := Pretrain(context.Background(), e, opts); err == nil || !strings.Contains(err.Error(), "ensemble") {
		t.Errorf("pretraining an ensemble: %v", err)
	}
}

// TestDefaultSplitsHoldOutOnePoint: by default every instance of two or
// more observations holds out exactly one (its context is then the
// closest to the n_k points it is decided from once deployed); otherwise
// 10% to 40% of them, at least one. Context and held-out points together
// are the instance's observations.
func TestDefaultSplitsHoldOutOnePoint(t *testing.T) {
	p := realLike(1, 30, 10)
	p.Obs[0] = p.Obs[0][:1]
	p.Obs[1] = p.Obs[1][:2]
	for _, loo := range []bool{true, false} {
		o := DefaultFinetuneOptions()
		if !o.LeaveOneOut {
			t.Fatal("default finetuning options do not hold out one point")
		}
		o.LeaveOneOut = loo
		f := &finetuner{p: p, o: o}
		for _, s := range f.splits(rand.New(rand.NewPCG(3, 4)), 5) {
			for k, obs := range p.Obs {
				held, ctx := s.held[k], s.ctx.Obs[k]
				want := [2]int{1, 1}
				switch {
				case len(obs) < 2:
					want = [2]int{0, 0}
				case !loo:
					want = [2]int{1, int(math.Round(0.4 * float64(len(obs))))}
				}
				if len(held) < want[0] || len(held) > want[1] {
					t.Errorf("leave-one-out %v, instance %d of %d observations: %d held out, want %d-%d", loo, k, len(obs), len(held), want[0], want[1])
				}
				all := slices.Sorted(slices.Values(append(slices.Clone(ctx), held...)))
				if !slices.Equal(all, slices.Sorted(slices.Values(obs))) {
					t.Errorf("leave-one-out %v, instance %d: context %v and held out %v are not its observations %v", loo, k, ctx, held, obs)
				}
			}
		}
	}
}
