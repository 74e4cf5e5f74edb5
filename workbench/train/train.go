// Package train pretrains ptft's Transformer on synthetic environments
// (DESIGN.md §4): batches of environments drawn from a prior, K drawn per
// step from a range and n_k per instance; the loss is the exact expected
// newsvendor cost of the decisions under the true distributions, divided by
// the oracle cost; Adam with linear warm-up and cosine decay; checkpoints,
// resume, and a seed that fixes the whole run.
//
// Exact loss. The true distributions (gamma, Poisson, negative binomial,
// mixtures, ...) have no closed form inside the graph, so each step runs in
// two passes: the model's decisions q are computed, the exact cost and its
// exact derivative dE[C]/dq = F(q) - rho come from problem.Newsvendor and the
// distribution on the CPU, and a second pass computes the gradient of the
// surrogate sum_k g_k q_k, which equals the exact gradient of the loss.
//
// Steps run in a GoMLX train.Loop, so that GoMLX's command-line progress bar
// (ui/commandline) and loop hooks work: the loop's dataset runs both passes
// and yields the gradients, and the loop's train.Trainer has Adam apply them
// (see gradients.go). On the pure-Go backend both passes split the batch
// into backend.PureGoShards shards run concurrently.
package train

import (
	stdcontext "context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

// Options configure pretraining.
type Options struct {
	Prior *prior.Prior
	Steps int
	// Batch is the number of environments per step.
	Batch int
	// Instances is the range K is drawn from, once per step.
	Instances prior.IntRange
	// Obs overrides the prior's n_k range (zero value: the prior's).
	Obs prior.IntRange
	// ObsPerEnvironment draws a sub-range of Obs per environment, n_k then
	// per instance from it. With n_k drawn per instance over the whole range
	// alone, a portfolio where every instance has the same small n never
	// occurs in training, although it is the usual case in use; the pooled
	// statistics the model reads (spread of the instance means against the
	// within-instance noise) then arrive with a noise level never seen in
	// pretraining, and the n = 2-3 decisions suffer.
	ObsPerEnvironment bool
	// LearningRate is the peak rate, reached after Warmup steps and decayed
	// by a cosine to LearningRate/10 at Steps.
	LearningRate float64
	Warmup       int
	Seed         uint64
	// Dir receives checkpoints every CheckpointEvery steps and at the end,
	// plus loss.csv, the loss curve.
	Dir             string
	CheckpointEvery int
	// ProgressBar shows GoMLX's command-line progress bar
	// (ui/commandline) on standard output, with the average regret.
	ProgressBar bool
	// OnStep, if set, is called after every step with its 0-based index
	// and loss (for live plots in notebooks).
	OnStep func(step int, loss float64)
}

// DefaultOptions are the reference sizing of DESIGN.md §4.
func DefaultOptions(p *prior.Prior) Options {
	return Options{Prior: p, Steps: 1500, Batch: 16, Instances: prior.IntRange{Min: 16, Max: 128},
		LearningRate: 1e-3, Warmup: 100, Seed: 1, CheckpointEvery: 100}
}

// Validate reports the first option out of range.
func (o *Options) Validate() error {
	switch {
	case o.Prior == nil:
		return fmt.Errorf("train: no prior")
	case o.Steps < 1 || o.Batch < 1:
		return fmt.Errorf("train: steps %d and batch %d must be >= 1", o.Steps, o.Batch)
	case o.Instances.Min < 1 || o.Instances.Max < o.Instances.Min:
		return fmt.Errorf("train: instances range [%d, %d] invalid", o.Instances.Min, o.Instances.Max)
	case !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 1):
		return fmt.Errorf("train: learning rate %v must be a positive number", o.LearningRate)
	case o.Warmup < 0 || o.CheckpointEvery < 0:
		return fmt.Errorf("train: warm-up %d and checkpoint interval %d must not be negative", o.Warmup, o.CheckpointEvery)
	case o.Obs != (prior.IntRange{}) && (o.Obs.Min < 1 || o.Obs.Max < o.Obs.Min):
		return fmt.Errorf("train: observations range [%d, %d] invalid", o.Obs.Min, o.Obs.Max)
	}
	return o.Prior.Validate()
}

// LearningRateAt is the schedule: linear warm-up, then cosine decay to a
// tenth of the peak.
func (o *Options) LearningRateAt(step int) float64 {
	if step < o.Warmup {
		return o.LearningRate * float64(step+1) / float64(o.Warmup)
	}
	t := float64(step-o.Warmup) / float64(max(1, o.Steps-o.Warmup))
	return o.LearningRate * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*min(1, t))))
}

// Environments draws step's batch: the same (seed, step) always gives the
// same environments, so a resumed run sees the data it would have seen.
func (o *Options) Environments(step int) ([]*prior.Environment, error) {
	rng := rand.New(rand.NewPCG(o.Seed, uint64(step)))
	k := o.Instances.Draw(rng)
	envs := make([]*prior.Environment, o.Batch)
	for b := range envs {
		obs := o.Obs
		if o.ObsPerEnvironment {
			obs = o.obsRange()
			lo, hi := obs.Draw(rng), obs.Draw(rng)
			obs = prior.IntRange{Min: min(lo, hi), Max: max(lo, hi)}
		}
		env, err := o.Prior.Generate(rng.Uint64(), prior.Options{Instances: k, Obs: obs})
		if err != nil {
			return nil, err
		}
		envs[b] = env
	}
	return envs, nil
}

// Trainer runs training steps on a model.
type Trainer struct {
	Model *model.Model
	gomlx *gomlxtrain.Trainer
	// pass is the gradient pass of the surrogate, created at the first step,
	// once the model's variables exist.
	pass *gradientPass
	lr   *context.Variable
	nv   problem.Newsvendor
}

// NewTrainer prepares the update: a GoMLX train.Trainer applying Adam to
// the gradients of the surrogate loss.
func NewTrainer(m *model.Model, peakLR float64) (*Trainer, error) {
	t := &Trainer{Model: m}
	opt := optimizers.Adam().LearningRate(peakLR).Done()
	var err error
	if t.gomlx, err = newUpdater(m, func() []*context.Variable { return t.pass.vars }, opt); err != nil {
		return nil, err
	}
	t.lr = optimizers.LearningRateVarWithValue(m.Context(), dtypes.Float32, peakLR)
	return t, nil
}

// StepStats reports one step.
type StepStats struct {
	// Loss is the mean over environments of cost / oracle cost (1 + the
	// relative regret).
	Loss float64
}

// Step runs one training step on environments with known truths.
func (t *Trainer) Step(envs []*prior.Environment, lr float64, padK, padN int) (StepStats, error) {
	inputs, labels, st, err := t.prepare(envs, lr, padK, padN)
	if err != nil {
		return StepStats{}, err
	}
	if _, err := t.gomlx.TrainStep(nil, inputs, labels); err != nil {
		return StepStats{}, err
	}
	return st, nil
}

// prepare runs the decisions on envs, their exact loss and its gradient
// with respect to the decisions on the CPU, and the gradient pass of the
// surrogate; it returns the update's inputs (the variables' gradients) and
// labels (the exact loss), and sets the learning rate. The environments
// are split into shards that run concurrently (see gradients.go).
func (t *Trainer) prepare(envs []*prior.Environment, lr float64, padK, padN int) (inputs, labels []*tensors.Tensor, st StepStats, err error) {
	bounds := shardBounds(len(envs), concurrency(t.Model))
	bts := make([]*model.Batch, len(bounds))
	qs := make([][]float32, len(bounds))
	errs := make([]error, len(bounds))
	var wg sync.WaitGroup
	for s, r := range bounds {
		wg.Go(func() {
			ps := make([]*data.Portfolio, r[1]-r[0])
			for i, e := range envs[r[0]:r[1]] {
				ps[i] = e.Portfolio
			}
			bts[s] = t.Model.NewTrainingBatch(ps, padK, padN)
			qs[s], errs[s] = t.Model.Predict(bts[s])
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, st, err
		}
	}
	grads := make([][]float32, len(bounds))
	for s := range bounds {
		grads[s] = make([]float32, len(qs[s]))
	}
	envLoss := make([]float64, len(envs))
	// The exact loss runs on the CPU, one goroutine per environment: with
	// the model on a GPU it is most of a step (a mixed-managerial batch
	// took about 27 ms on one core here, 12 ms after the mixture-quantile
	// change; a whole pretraining step took about 33 ms on an H200). Each
	// environment writes only its own rows, and the losses are summed in
	// order, so the result does not depend on scheduling.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for s, r := range bounds {
		bt, q, grad := bts[s], qs[s], grads[s]
		for b := range r[1] - r[0] {
			e := envs[r[0]+b]
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				cost, oracle := 0.0, 0.0
				for i := range bt.Sizes[b] {
					sc := bt.Scale[b*bt.K+i]
					d := e.Truth[i]
					rho := e.Portfolio.Ratios[i]
					qi := float64(q[b*bt.K+i]) * sc
					cost += t.nv.ExpectedCost(d, qi, rho)
					oracle += t.nv.ExpectedCost(d, d.Quantile(rho), rho)
					grad[b*bt.K+i] = float32(sc * (d.CDF(qi) - rho))
				}
				if !(oracle > 0) {
					// Every product is deterministic (never sells, or
					// constant): the relative cost is undefined, so the
					// environment counts as solved and teaches nothing.
					clear(grad[b*bt.K : b*bt.K+bt.Sizes[b]])
					envLoss[r[0]+b] = 1
					return
				}
				// d(loss_b)/d(q) = (F - rho) s / oracle_total; batch loss averages b.
				norm := 1 / (oracle * float64(len(envs)))
				for i := range bt.Sizes[b] {
					grad[b*bt.K+i] *= float32(norm)
				}
				envLoss[r[0]+b] = cost / oracle
			})
		}
	}
	wg.Wait()
	loss := 0.0
	for _, l := range envLoss {
		loss += l
	}
	st.Loss = loss / float64(len(envs))
	if t.pass == nil {
		// The surrogate sum_k g_k q_k: its gradient is the exact loss's.
		surrogate := func(q *Node, g []*Node) *Node { return ReduceAllSum(Mul(q, StopGradient(g[0]))) }
		if t.pass, err = newGradientPass(t.Model, surrogate); err != nil {
			return nil, nil, st, err
		}
	}
	shards := make([][]any, len(bounds))
	for s, bt := range bts {
		shards[s] = append(bt.InputTensors(), tensors.FromFlatDataAndDimensions(grads[s], bt.B, bt.K))
	}
	if _, inputs, err = t.pass.run(shards); err != nil {
		return nil, nil, st, err
	}
	t.lr.MustSetValue(tensors.FromScalar(float32(lr)))
	return inputs, []*tensors.Tensor{tensors.FromScalar(st.Loss)}, st, nil
}

// pretrainData is the pretraining loop's dataset: each Yield draws the next
// step's environments and runs both passes on them (Trainer.prepare).
type pretrainData struct {
	ctx  stdcontext.Context
	tr   *Trainer
	opts *Options
	padN int
	next int       // step of the next Yield
	last StepStats // of the step last yielded
}

func (d *pretrainData) Name() string { return "pretrain/" + d.opts.Prior.Name }

func (d *pretrainData) Reset() {}

func (d *pretrainData) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	if err := d.ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	envs, err := d.opts.Environments(d.next)
	if err != nil {
		return nil, nil, nil, err
	}
	inputs, labels, d.last, err = d.tr.prepare(envs, d.opts.LearningRateAt(d.next), padInstances(envs[0].Portfolio.Len()), d.padN)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("train step %d: %w", d.next, err)
	}
	d.next++
	return nil, inputs, labels, nil
}

// obsRange is the n_k range in force: Obs, else the prior's.
func (o *Options) obsRange() prior.IntRange {
	if o.Obs == (prior.IntRange{}) {
		return o.Prior.Obs
	}
	return o.Obs
}

// padInstances rounds K up to a multiple of 16 so that few distinct shapes
// are compiled.
func padInstances(k int) int { return (k + 15) / 16 * 16 }

// Pretrain trains m (fresh, or loaded from opts.Dir when resuming: its
// Meta.Steps says where to continue) and saves it in opts.Dir.
//
// Cancelling ctx stops the run between steps without saving, as a kill
// would: a later Pretrain on the loaded model resumes from the last
// checkpoint.
func Pretrain(ctx stdcontext.Context, m *model.Model, opts Options) error {
	if m.Config.Members > 1 {
		return fmt.Errorf("train: the model is an ensemble of %d pretrained models, which does not continue pretraining: pretrain each member, then combine them with ptft ensemble", m.Config.Members)
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.Dir == "" {
		return fmt.Errorf("train: no output folder")
	}
	obs := opts.obsRange()
	tr, err := NewTrainer(m, opts.LearningRate)
	if err != nil {
		return err
	}
	curve, err := readCurve(filepath.Join(opts.Dir, CurveFile), m.Meta.Steps)
	if err != nil {
		return err
	}
	m.Meta.Prior, m.Meta.PriorVersion, m.Meta.Seed = opts.Prior.Name, opts.Prior.Version, opts.Seed
	m.Meta.Backend, m.Meta.Version = backend.Name(), provenance.CodeVersion()
	rec := &model.TrainingRecord{Batch: opts.Batch, Instances: [2]int{opts.Instances.Min, opts.Instances.Max},
		Obs: [2]int{obs.Min, obs.Max}, ObsPerEnvironment: opts.ObsPerEnvironment,
		LearningRate: opts.LearningRate, Warmup: opts.Warmup}
	if m.Meta.Steps > 0 && m.Meta.Training != nil && *m.Meta.Training != *rec {
		return fmt.Errorf("train: resuming a run made with %+v under different options %+v", *m.Meta.Training, *rec)
	}
	m.Meta.Training = rec
	if len(m.Meta.Legs) == 0 && m.Meta.Steps > 0 {
		m.Meta.Legs = []model.TrainingLeg{{To: m.Meta.Steps}} // made before legs were recorded
	}
	leg := len(m.Meta.Legs)
	m.Meta.Legs = append(m.Meta.Legs, model.TrainingLeg{From: m.Meta.Steps, To: m.Meta.Steps, Backend: m.Meta.Backend, Version: m.Meta.Version})
	save := func(step int) error {
		m.Meta.Steps, m.Meta.TargetSteps = step, opts.Steps
		m.Meta.Legs[leg].To = step
		if len(curve) > 0 {
			m.Meta.FinalLoss = curve[len(curve)-1]
		}
		if err := m.Save(opts.Dir); err != nil {
			return err
		}
		return writeCurve(filepath.Join(opts.Dir, CurveFile), curve)
	}
	start := m.Meta.Steps
	ds := &pretrainData{ctx: ctx, tr: tr, opts: &opts, padN: obs.Max, next: start}
	loop := gomlxtrain.NewLoop(tr.gomlx)
	ema := math.NaN()
	regret := &barLine{name: "average regret"}
	var bar *progress
	if opts.ProgressBar {
		bar = newProgress(loop, "pretraining", opts.Steps, regret)
	}
	loop.OnStep("ptft", 0, func(_ *gomlxtrain.Loop, _ []*tensors.Tensor) error {
		step, loss := ds.next-1, ds.last.Loss
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("train step %d: loss is %v", step, loss)
		}
		curve = append(curve, loss)
		if opts.OnStep != nil {
			opts.OnStep(step, loss)
		}
		if math.IsNaN(ema) {
			ema = loss
		}
		ema = 0.95*ema + 0.05*loss
		regret.set(fmt.Sprintf("%.3f%%", 100*(ema-1)))
		if bar != nil {
			bar.step(step)
		}
		if opts.CheckpointEvery > 0 && (step+1)%opts.CheckpointEvery == 0 && step+1 < opts.Steps {
			return save(step + 1)
		}
		return nil
	})
	if _, err := loop.RunSteps(ds, opts.Steps-start); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	return save(opts.Steps)
}

// barLine is an extra line of GoMLX's progress bar. The bar draws it from
// its own goroutine while the loop's hooks update it, hence the atomic.
type barLine struct {
	name  string
	value atomic.Pointer[string]
}

func (l *barLine) set(v string) { l.value.Store(&v) }

func (l *barLine) get() (name, value string) {
	if v := l.value.Load(); v != nil {
		value = *v
	}
	return l.name, value
}

// CurveFile holds the loss curve, one row per step.
const CurveFile = "loss.csv"

// ReadCurve reads a loss curve written by Pretrain.
func ReadCurve(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	var curve []float64
	for i, r := range rows[1:] {
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+2, err)
		}
		curve = append(curve, v)
	}
	return curve, nil
}

// readCurve returns the first steps entries of the curve at path (none
// when starting afresh).
func readCurve(path string, steps int) ([]float64, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if steps > 0 {
			return nil, fmt.Errorf("train: resuming at step %d but %s is missing", steps, path)
		}
		return nil, nil
	}
	curve, err := ReadCurve(path)
	if err != nil {
		return nil, err
	}
	if len(curve) < steps {
		return nil, fmt.Errorf("train: %s has %d steps, the checkpoint %d", path, len(curve), steps)
	}
	return curve[:steps], nil
}

func writeCurve(path string, curve []float64) error {
	return data.WriteFileAtomic(path, func(w io.Writer) error {
		fmt.Fprintln(w, "step,loss")
		for i, v := range curve {
			fmt.Fprintf(w, "%d,%s\n", i+1, strconv.FormatFloat(v, 'g', -1, 64))
		}
		return nil
	})
}
