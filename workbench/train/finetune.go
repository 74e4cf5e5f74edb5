package train

import (
	stdcontext "context"
	"fmt"
	"math/rand/v2"
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
// context and held-out points (o.SplitPool steps' worth of splits, cycled,
// or resampled every step), feeds the contexts and
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
	ds := &finetuneData{ctx: ctx, f: f, rng: rng, step: first}
	if o.SplitPool > 0 {
		// Drawn from the seed alone, so that a resumed run has the same pool;
		// no larger than poolObservations observations in all (each split
		// copies the portfolio's).
		prng := rand.New(rand.NewPCG(o.Seed, 0x706f6f6c))
		ds.pool = make([][]split, max(1, min(o.SplitPool, poolObservations/max(1, o.Splits*p.NumObs()))))
		for i := range ds.pool {
			ds.pool[i] = f.splits(prng, o.Splits)
		}
	}
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

// poolObservations bounds the observations a split pool holds (about
// 160 MB of float64s).
const poolObservations = 20_000_000

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

	mu          sync.Mutex
	batches     map[batchKey]*model.Batch // batchOf's memo
	cachedBytes int
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
	// Decide creates every model variable (adapters too); its strength
	// selection, which runs the model on held-out folds, is not needed for
	// that.
	full := f.m.FullStrength
	f.m.FullStrength = true
	_, err := f.m.Decide(f.p)
	f.m.FullStrength = full
	if err != nil {
		return err
	}
	for v := range ctx.IterVariables() {
		name := v.ScopeAndName()
		if !model.IsModelVariable(name) { // optimizer state, step counters
			v.SetTrainable(false)
			continue
		}
		on := selected(f.o.Params, f.m.GroupOf(name))
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
		in, held := model.SplitInputs(x)
		return heldOutCost(f.m.Graph(ctx, in), held[0], held[1], held[2])
	})
	if err != nil {
		return err
	}
	f.loss.SetMaxCache(16)
	return nil
}
