package train

import (
	stdcontext "context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
)

// Which parameters finetuning updates.
const (
	ParamsAll      = "all"
	ParamsHead     = "head"     // the head and the last block
	ParamsAdapters = "adapters" // low-rank adapters only
)

// FinetuneOptions configure finetuning on real observations (DESIGN.md §5).
type FinetuneOptions struct {
	Steps int
	// Splits is the number of random context/held-out splits per step.
	Splits int
	// LeaveOneOut holds out one point per instance instead of a random
	// 10% to 40% of its points.
	LeaveOneOut bool
	// Params is ParamsAll, ParamsHead or ParamsAdapters.
	Params       string
	AdapterRank  int
	LearningRate float64
	// ValFraction of the instances (with two or more observations) are held
	// out for early stopping; EvalEvery steps apart, Patience evaluations
	// without improvement stop the run. The best weights are kept.
	ValFraction float64
	EvalEvery   int
	Patience    int
	Seed        uint64
	// ProgressBar shows GoMLX's command-line progress bar (ui/commandline)
	// on standard output, with the validation cost.
	ProgressBar bool
	// Dir, when set, receives a checkpoint every CheckpointEvery steps
	// (rounded up to an evaluation): Dir/checkpoint holds the current
	// weights with Adam's state, Dir/checkpoint/best the best weights so
	// far, and Dir/checkpoint/state.json the step, early-stopping state and
	// the state of the random splits.
	Dir             string
	CheckpointEvery int
	// Resume continues the run checkpointed in Dir; the model passed to
	// Finetune must be the one loaded from Dir/checkpoint. The resumed run
	// ends with the same weights as an uninterrupted one.
	Resume bool
	// OnStep, if set, is called after every step with its 0-based index.
	OnStep func(step int)
}

// Validate reports the first option out of range, in one sentence.
func (o FinetuneOptions) Validate() error {
	switch {
	case o.Steps < 1:
		return fmt.Errorf("finetune: steps %d must be at least 1", o.Steps)
	case o.Splits < 1:
		return fmt.Errorf("finetune: splits %d must be at least 1", o.Splits)
	case !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 1):
		return fmt.Errorf("finetune: learning rate %v must be a positive number", o.LearningRate)
	case o.EvalEvery < 1:
		return fmt.Errorf("finetune: evaluation interval %d must be at least 1 step", o.EvalEvery)
	case !(o.ValFraction >= 0 && o.ValFraction < 1):
		return fmt.Errorf("finetune: validation fraction %v must be in [0, 1)", o.ValFraction)
	case o.Patience < 0:
		return fmt.Errorf("finetune: patience %d must not be negative", o.Patience)
	case o.Params != ParamsAll && o.Params != ParamsHead && o.Params != ParamsAdapters:
		return fmt.Errorf("finetune: params %q must be %s, %s or %s", o.Params, ParamsAll, ParamsHead, ParamsAdapters)
	case o.Params == ParamsAdapters && o.AdapterRank < 1:
		return fmt.Errorf("finetune: adapter rank %d must be at least 1", o.AdapterRank)
	}
	return nil
}

// DefaultFinetuneOptions finetunes every parameter for up to 300 steps.
func DefaultFinetuneOptions() FinetuneOptions {
	return FinetuneOptions{Steps: 300, Splits: 4, Params: ParamsAll, AdapterRank: 4, LearningRate: 3e-4,
		ValFraction: 0.2, EvalEvery: 10, Patience: 5, Seed: 1}
}

// FinetuneResult reports a finetuning run.
type FinetuneResult struct {
	Steps     int
	BestStep  int
	BestVal   float64 // validation cost per held-out point (weighted by CostWeights), in the data's units
	StartVal  float64 // the same before finetuning
	Trainable int     // number of trainable variables
}

// Finetune adapts m to a portfolio of real observations. The loss comes
// from the data alone: every step splits each instance's observations into
// context and held-out points (resampled every step), feeds the contexts and
// scores the empirical newsvendor cost of the decisions on the held-out
// points, each instance's weighted by p.CostWeights if set. Instances with
// one observation are context only.
func Finetune(ctx stdcontext.Context, m *model.Model, p *data.Portfolio, o FinetuneOptions) (*FinetuneResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := model.CheckRange(p); err != nil {
		return nil, err
	}
	if o.Params == ParamsAdapters && m.Config.Adapters == 0 {
		if err := m.EnableAdapters(o.AdapterRank); err != nil {
			return nil, err
		}
	}
	src := rand.NewPCG(o.Seed, 0x66696e65)
	rng := rand.New(src)
	// Instance-level validation split.
	val := make([]bool, p.Len())
	var splittable []int
	for k, obs := range p.Obs {
		if len(obs) >= 2 {
			splittable = append(splittable, k)
		}
	}
	if len(splittable) == 0 {
		return nil, fmt.Errorf("%s: finetuning needs instances with at least two observations", p.Source)
	}
	rng.Shuffle(len(splittable), func(i, j int) { splittable[i], splittable[j] = splittable[j], splittable[i] })
	for _, k := range splittable[:int(o.ValFraction*float64(len(splittable)))] {
		val[k] = true
	}
	maxHeld := 0
	for _, obs := range p.Obs {
		maxHeld = max(maxHeld, len(obs))
	}

	f := &finetuner{m: m, p: p, o: o, val: val, maxN: maxHeld}
	if err := f.build(); err != nil {
		return nil, err
	}
	res := &FinetuneResult{Trainable: f.trainable}
	valSplits := f.splits(rand.New(rand.NewPCG(o.Seed, 0x76616c)), 8)
	evaluate := func() (float64, error) { return f.cost(valSplits, true) }
	var snapshot map[*context.Variable]*tensors.Tensor
	bad, first := 0, 0
	if o.Resume {
		st, best, err := f.readCheckpoint(src)
		if err != nil {
			return nil, err
		}
		*res = st.Result
		res.Trainable = f.trainable
		bad, first, snapshot = st.Bad, st.Result.Steps, best
	} else {
		best, err := evaluate()
		if err != nil {
			return nil, err
		}
		res.StartVal, res.BestVal = best, best
		snapshot = f.snapshot()
	}
	// The steps run in a GoMLX train.Loop (for its progress bar); the hook
	// evaluates, checkpoints, and stops the loop early by moving its end.
	ds := &finetuneData{ctx: ctx, f: f, rng: rng}
	loop := gomlxtrain.NewLoop(f.trainer)
	validation := &barLine{name: "validation cost (start, best)"}
	showValidation := func(v float64) {
		validation.set(fmt.Sprintf("%.5g (%.5g, %.5g)", v, res.StartVal, res.BestVal))
	}
	showValidation(res.BestVal)
	var bar *progress
	if o.ProgressBar {
		bar = newProgress(loop, "finetuning", o.Steps, validation)
	}
	step := first
	loop.OnStep("ptft", 0, func(loop *gomlxtrain.Loop, _ []*tensors.Tensor) error {
		defer func() {
			if bar != nil {
				bar.step(step)
			}
			step++
		}()
		res.Steps = step + 1
		if o.OnStep != nil {
			o.OnStep(step)
		}
		if (step+1)%o.EvalEvery != 0 && step+1 != o.Steps {
			return nil
		}
		v, err := evaluate()
		if err != nil {
			return err
		}
		stop := false
		if v < res.BestVal {
			res.BestVal, res.BestStep, bad = v, step+1, 0
			snapshot = f.snapshot()
		} else if bad++; o.Patience > 0 && bad >= o.Patience {
			stop = true
		}
		showValidation(v)
		if o.Dir != "" && o.CheckpointEvery > 0 && !stop && step+1 < o.Steps &&
			(step+1)/o.CheckpointEvery > (step+1-o.EvalEvery)/o.CheckpointEvery {
			if err := f.writeCheckpoint(src, finetuneState{Result: *res, Bad: bad}, snapshot); err != nil {
				return err
			}
		}
		if stop {
			loop.EndStep = loop.LoopStep + 1
		}
		return nil
	})
	if _, err := loop.RunSteps(ds, o.Steps-first); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("finetune step %d: %w", step, err)
	}
	if bar != nil {
		bar.done(step - 1)
	}
	f.restore(snapshot)
	return res, nil
}

type finetuner struct {
	m         *model.Model
	p         *data.Portfolio
	o         FinetuneOptions
	val       []bool
	maxN      int
	pass      *gradientPass
	trainer   *gomlxtrain.Trainer
	loss      *context.Exec
	trainable int
}

// CheckpointDir is the folder, inside FinetuneOptions.Dir, of a run's
// checkpoint.
const CheckpointDir = "checkpoint"

// finetuneState is what a checkpoint records besides the weights.
type finetuneState struct {
	Result FinetuneResult `json:"result"`
	Bad    int            `json:"evaluations_without_improvement"`
	// Splits is the state of the random splits' generator.
	Splits []byte `json:"splits_rng"`
	// Run identifies the options and data, so a checkpoint is never
	// resumed under different ones.
	Run string `json:"run"`
	// Data is the digest of the portfolio (data.Portfolio.Digest): values,
	// ratios and support, not only the file name and counts.
	Data string `json:"data_sha256"`
}

func (f *finetuner) runID() string {
	o := f.o
	return fmt.Sprintf("steps=%d splits=%d loo=%v params=%s rank=%d lr=%g val=%g every=%d patience=%d seed=%d data=%s K=%d obs=%d",
		o.Steps, o.Splits, o.LeaveOneOut, o.Params, o.AdapterRank, o.LearningRate, o.ValFraction, o.EvalEvery, o.Patience, o.Seed,
		f.p.Source, f.p.Len(), f.p.NumObs())
}

// writeCheckpoint saves the current weights (with Adam's state), the best
// weights and the state, each file atomically, state last.
func (f *finetuner) writeCheckpoint(src *rand.PCG, st finetuneState, best map[*context.Variable]*tensors.Tensor) error {
	dir := filepath.Join(f.o.Dir, CheckpointDir)
	if err := f.m.Save(dir); err != nil {
		return err
	}
	current := f.snapshot()
	f.restore(best)
	err := f.m.Save(filepath.Join(dir, "best"))
	f.restore(current)
	if err != nil {
		return err
	}
	if st.Splits, err = src.MarshalBinary(); err != nil {
		return err
	}
	st.Run, st.Data = f.runID(), f.p.Digest()
	return data.WriteFileAtomic(filepath.Join(dir, "state.json"), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(st)
	})
}

// readCheckpoint restores the state and the splits' generator and returns
// the best weights of the checkpoint in Dir.
func (f *finetuner) readCheckpoint(src *rand.PCG) (finetuneState, map[*context.Variable]*tensors.Tensor, error) {
	dir := filepath.Join(f.o.Dir, CheckpointDir)
	var st finetuneState
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	if st.Run != f.runID() {
		return st, nil, fmt.Errorf("finetune: resume: the checkpoint in %s is of another run (%s), not %s", dir, st.Run, f.runID())
	}
	if d := f.p.Digest(); st.Data != d {
		return st, nil, fmt.Errorf("finetune: resume: the checkpoint in %s was made on other data than %s (same name and counts, other values, ratios or support): start a new run in another folder", dir, f.p.Source)
	}
	if err := src.UnmarshalBinary(st.Splits); err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	best, err := model.Load(filepath.Join(dir, "best"))
	if err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %w", err)
	}
	vals := map[string]*tensors.Tensor{}
	for v := range best.Context().IterVariables() {
		vals[v.ScopeAndName()] = v.MustValue()
	}
	snap := map[*context.Variable]*tensors.Tensor{}
	for v := range f.m.Context().IterVariables() {
		if v.Trainable {
			t, ok := vals[v.ScopeAndName()]
			if !ok {
				return st, nil, fmt.Errorf("finetune: resume: %s lacks variable %s", filepath.Join(dir, "best"), v.ScopeAndName())
			}
			snap[v] = t
		}
	}
	return st, snap, nil
}

// split is one context/held-out division of the portfolio.
type split struct {
	ctx  *data.Portfolio
	held [][]float64
}

func (f *finetuner) splits(rng *rand.Rand, n int) []split {
	out := make([]split, n)
	for i := range out {
		s := split{ctx: &data.Portfolio{Source: f.p.Source, IDs: f.p.IDs, Ratios: f.p.Ratios,
			Obs: make([][]float64, f.p.Len())}, held: make([][]float64, f.p.Len())}
		for k, obs := range f.p.Obs {
			nk := len(obs)
			if nk < 2 {
				s.ctx.Obs[k] = obs
				continue
			}
			h := 1
			if !f.o.LeaveOneOut {
				h = max(1, int(math.Round(float64(nk)*(0.1+0.3*rng.Float64()))))
			}
			perm := rng.Perm(nk)
			for j, idx := range perm {
				if j < h {
					s.held[k] = append(s.held[k], obs[idx])
				} else {
					s.ctx.Obs[k] = append(s.ctx.Obs[k], obs[idx])
				}
			}
		}
		out[i] = s
	}
	return out
}

// tensors lays splits out as a batch plus held-out values (scaled), a mask
// selecting training or validation instances' held-out points, and ratios;
// it also returns the unit that turns the graph's held-out cost into the
// data's units, and the mask's total. The mask holds each point's
// instance cost weight (data.Portfolio.CostWeights), so that costs are
// weighted means, times the instance's scale relative to the first
// instance's of its split (1 when a portfolio shares one scale; a model
// that sees each instance alone scales each by its own), so that within a
// split every instance's cost counts in the data's units. The unit is the
// first split's (cost evaluates one split at a time).
func (f *finetuner) tensors(ss []split, validation bool) (args []any, unit float64, points float64) {
	ps := make([]*data.Portfolio, len(ss))
	for i, s := range ss {
		ps[i] = s.ctx
	}
	bt := f.m.NewBatch(ps, 0, 0)
	weighted := 0.0
	held := make([]float32, bt.B*bt.K*f.maxN)
	mask := make([]float32, bt.B*bt.K*f.maxN)
	ratio := make([]float32, bt.B*bt.K)
	for b, s := range ss {
		ref := bt.Scale[b*bt.K]
		for k, h := range s.held {
			ratio[b*bt.K+k] = float32(f.p.Ratios[k])
			if f.val[k] != validation {
				continue
			}
			w := 1.0
			if f.p.CostWeights != nil {
				w = f.p.CostWeights[k]
			}
			sc := bt.Scale[b*bt.K+k]
			for j, x := range h {
				i := (b*bt.K+k)*f.maxN + j
				held[i], mask[i] = float32(x/sc), float32(w*(sc/ref))
				points += w
				weighted += w * (sc / ref)
			}
		}
	}
	args = append(bt.InputTensors(),
		tensors.FromFlatDataAndDimensions(held, bt.B, bt.K, f.maxN),
		tensors.FromFlatDataAndDimensions(mask, bt.B, bt.K, f.maxN),
		tensors.FromFlatDataAndDimensions(ratio, bt.B, bt.K))
	unit = bt.Scale[0]
	if points > 0 {
		unit *= weighted / points
	}
	return args, unit, points
}

// heldOutCost is the mean newsvendor cost of decisions q [B,K] on the
// masked held-out points, weighted by the mask, in scaled units.
func heldOutCost(q, held, mask, ratio *Node) *Node {
	count := ReduceAllSum(mask)
	return Div(heldOutTotal(q, held, mask, ratio), Where(GreaterThan(count, ZerosLike(count)), count, OnesLike(count)))
}

// heldOutTotal is the total newsvendor cost of decisions q [B,K] on the
// masked held-out points, each times its mask value, in scaled units.
func heldOutTotal(q, held, mask, ratio *Node) *Node {
	dims := held.Shape().Dimensions
	qb := BroadcastToDims(Reshape(q, dims[0], dims[1], 1), dims...)
	rb := BroadcastToDims(Reshape(ratio, dims[0], dims[1], 1), dims...)
	zero := ZerosLike(held)
	under := Mul(rb, Max(Sub(held, qb), zero))
	over := Mul(OneMinus(rb), Max(Sub(qb, held), zero))
	return ReduceAllSum(Mul(Add(under, over), mask))
}

func (f *finetuner) build() error {
	ctx := f.m.Context()
	// Fresh optimizer state: pretraining's Adam moments do not carry over
	// (a resumed run keeps the checkpoint's).
	opt := optimizers.Adam().LearningRate(f.o.LearningRate).Done()
	if !f.o.Resume {
		if err := opt.Clear(ctx); err != nil {
			return err
		}
	}
	// A pretrained model carries its schedule's last learning rate in the
	// optimizer's learning-rate variable, and Adam reuses an existing
	// variable rather than the rate it is configured with: set it.
	optimizers.LearningRateVarWithValue(ctx, dtypes.Float32, f.o.LearningRate).
		MustSetValue(tensors.FromScalar(float32(f.o.LearningRate)))
	if _, err := f.m.Decide(f.p); err != nil { // creates every model variable (adapters too)
		return err
	}
	for v := range ctx.IterVariables() {
		name := v.ScopeAndName()
		if !model.IsModelVariable(name) { // optimizer state, step counters
			v.SetTrainable(false)
			continue
		}
		on := selected(f.o.Params, name, f.m.Config.Blocks)
		v.SetTrainable(on)
		if on {
			f.trainable++
		}
	}
	if f.trainable == 0 {
		return fmt.Errorf("finetune: --params %q selects no variable", f.o.Params)
	}
	// The training loss is the held-out cost per held-out point of the
	// whole step's batch: each shard's total over the batch's count (an
	// input), so that the shards' losses and gradients add up.
	perPoint := func(q *Node, x []*Node) *Node { return Div(heldOutTotal(q, x[0], x[1], x[2]), x[3]) }
	var err error
	if f.pass, err = newGradientPass(f.m, perPoint); err != nil {
		return err
	}
	if f.trainer, err = newUpdater(f.m, func() []*context.Variable { return f.pass.vars }, opt); err != nil {
		return err
	}
	// NewTrainer deletes the learning-rate variable, so Adam recreates it
	// at f.o.LearningRate; set it all the same, as above.
	optimizers.LearningRateVarWithValue(ctx, dtypes.Float32, f.o.LearningRate).
		MustSetValue(tensors.FromScalar(float32(f.o.LearningRate)))
	f.loss, err = context.NewExec(f.m.Backend(), ctx, func(ctx *context.Context, x []*Node) *Node {
		return heldOutCost(f.m.Graph(ctx, model.InputsOf(x[:7])), x[7], x[8], x[9])
	})
	if err != nil {
		return err
	}
	f.loss.SetMaxCache(16)
	return nil
}

// selected says whether variable name is finetuned under params.
func selected(params, name string, blocks int) bool {
	switch params {
	case ParamsAll:
		return !strings.HasSuffix(name, model.AdapterA) && !strings.HasSuffix(name, model.AdapterB)
	case ParamsHead:
		return strings.Contains(name, "head") || (blocks > 0 && strings.HasPrefix(name, fmt.Sprintf("/block_%d/", blocks-1)))
	case ParamsAdapters:
		return strings.HasSuffix(name, model.AdapterA) || strings.HasSuffix(name, model.AdapterB)
	}
	return false
}

// finetuneData is the finetuning loop's dataset: each Yield draws the next
// step's random splits and lays them out, the held-out points as labels.
type finetuneData struct {
	ctx stdcontext.Context
	f   *finetuner
	rng *rand.Rand
}

func (d *finetuneData) Name() string { return "finetune/" + d.f.p.Source }

func (d *finetuneData) Reset() {}

func (d *finetuneData) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	if err := d.ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	ss := d.f.splits(d.rng, d.f.o.Splits)
	bounds := shardBounds(len(ss), concurrency(d.f.m))
	shards := make([][]any, len(bounds))
	count := 0.0
	for s, r := range bounds {
		var n float64
		shards[s], _, n = d.f.tensors(ss[r[0]:r[1]], false)
		count += n
	}
	if count == 0 {
		count = 1
	}
	for s := range shards {
		shards[s] = append(shards[s], tensors.FromScalar(float32(count)))
	}
	loss, grads, err := d.f.pass.run(shards)
	if err != nil {
		return nil, nil, nil, err
	}
	return nil, grads, []*tensors.Tensor{tensors.FromScalar(loss)}, nil
}

// cost returns the mean held-out cost in the data's units.
// The splits are scored one per execution, shards of them concurrently.
func (f *finetuner) cost(ss []split, validation bool) (float64, error) {
	costs := make([]float64, len(ss))
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for _, r := range shardBounds(len(ss), concurrency(f.m)) {
		wg.Go(func() {
			for i := r[0]; i < r[1]; i++ {
				args, unit, _ := f.tensors(ss[i:i+1], validation)
				out, err := f.loss.Exec(args...)
				if err != nil {
					errs[i] = err
					return
				}
				costs[i] = float64(tensors.ToScalar[float32](out[0])) * unit
			}
		})
	}
	wg.Wait()
	total := 0.0
	for i, c := range costs {
		if errs[i] != nil {
			return 0, errs[i]
		}
		total += c
	}
	return total / float64(len(ss)), nil
}

func (f *finetuner) snapshot() map[*context.Variable]*tensors.Tensor {
	snap := map[*context.Variable]*tensors.Tensor{}
	for v := range f.m.Context().IterVariables() {
		if v.Trainable {
			t, err := v.MustValue().LocalClone()
			if err != nil {
				panic(err) // a local tensor always clones
			}
			snap[v] = t
		}
	}
	return snap
}

// restore sets copies of snap's tensors into the model, never the tensors
// themselves: GoMLX frees a variable's tensor when the variable is set again
// (and training steps donate it), so a snapshot handed over would be freed
// at the next restore or step, and a best snapshot that outlived one
// checkpoint then failed the next one.
func (f *finetuner) restore(snap map[*context.Variable]*tensors.Tensor) {
	for v, t := range snap {
		c, err := t.LocalClone()
		if err != nil {
			panic(err) // a local tensor always clones
		}
		v.MustSetValue(c)
	}
}
