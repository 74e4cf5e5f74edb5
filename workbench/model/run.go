package model

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/data"
)

// Model is a Transformer with its variables, bound to a backend.
type Model struct {
	Config  Config
	Meta    Meta
	ctx     *context.Context
	b       *builder
	backend backends.Backend

	once    sync.Once
	forward *shapeExec
	err     error

	stream streamExecs
	// forceStream > 0 streams every portfolio in chunks of at most that
	// many rows (tests compare the streamed and whole paths).
	forceStream int

	// FullStrength, when set, skips Decide's rule selection: every
	// portfolio gets the trained head (strength 1). New and Load set it
	// when the environment variable FullStrengthEnv is non-empty.
	FullStrength bool
	damped       dampedModels
}

// New returns a freshly initialised model on the backend chosen by
// workbench/backend; seed fixes the initial weights.
func New(cfg Config, seed uint64) (*Model, error) {
	m, err := newModel(cfg, seed)
	if err != nil {
		return nil, err
	}
	// Create and initialise every variable now, on a tiny batch: the seeded
	// draws come in the same order for any batch. Training then runs
	// executions concurrently, which GoMLX v0.26.0 allows only once no
	// variable awaits initialisation (an execution initialises pending
	// variables itself, unguarded).
	if _, err := m.Predict(m.probeBatch()); err != nil {
		return nil, err
	}
	return m, nil
}

// newModel is New without variables (Load sets them).
func newModel(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	be, err := backend.New()
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, ctx: context.New(), backend: be,
		b:            &builder{cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x6d6f64656c))},
		FullStrength: os.Getenv(FullStrengthEnv) != ""}
	m.Meta = Meta{Format: FormatVersion, Config: cfg, Provenance: Provenance{Seed: seed}}
	return m, nil
}

// probeBatch is a tiny valid batch: two instances, one with one
// observation.
func (m *Model) probeBatch() *Batch {
	p := &data.Portfolio{IDs: []string{"a", "b"}, Obs: [][]float64{{1, 2}, {3}}, Ratios: []float64{0.5, 0.5}}
	return m.NewBatch([]*data.Portfolio{p}, 0, 0)
}

// EnableAdapters adds low-rank adapters of rank r to the model (see
// Config.Adapters); graphs are rebuilt on next use.
func (m *Model) EnableAdapters(r int) error {
	if r < 1 {
		return fmt.Errorf("model: adapter rank %d must be >= 1", r)
	}
	m.Config.Adapters, m.b.cfg.Adapters = r, r
	m.once, m.forward, m.err = sync.Once{}, nil, nil
	m.stream = streamExecs{}
	m.damped.mu.Lock()
	m.damped.by = nil // the copies were built without the adapters
	m.damped.mu.Unlock()
	return nil
}

// Name implements baseline.Policy.
func (m *Model) Name() string { return "transformer" }

// Context exposes the model's variables (for training and finetuning).
func (m *Model) Context() *context.Context { return m.ctx }

// Backend returns the backend the model runs on.
func (m *Model) Backend() backends.Backend { return m.backend }

// Graph builds the model's decisions q [B,K] (in scaled units) from the
// seven batch inputs, creating variables on first use.
func (m *Model) Graph(ctx *context.Context, in Inputs) *Node { return m.b.graph(ctx, in) }

// Predict returns the model's decisions for a batch, in scaled units, [B*K].
func (m *Model) Predict(bt *Batch) ([]float32, error) {
	m.once.Do(func() {
		m.forward, m.err = newShapeExec(func() (*context.Exec, error) {
			return context.NewExec(m.backend, m.ctx, func(ctx *context.Context, x []*Node) *Node {
				return m.Graph(ctx, InputsOf(x))
			})
		})
	})
	if m.err != nil {
		return nil, m.err
	}
	if f, h := widths(m.Config.Experts); bt.F != f || bt.H != h {
		return nil, fmt.Errorf("model: batch laid out with %d features and %d head inputs, the model takes %d and %d (lay out batches with the model's NewBatch)",
			bt.F, bt.H, f, h)
	}
	out, err := m.forward.Exec(bt.InputTensors()...)
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// maxAttentionEntries bounds full attention's [B,H,K,K] logits (about
// 4 GiB of float32 across the few live copies); beyond it Decide asks for an
// inducing-point model.
const maxAttentionEntries = 1 << 28

// MaxScaled is the largest observation the model takes, in units of its
// portfolio's scale (the median instance mean): the network computes in
// float32, whose squares overflow near 1.8e19, so larger values would turn
// every instance's decision into NaN. Such data are refused instead.
const MaxScaled = 1e12

// CheckRange returns an error naming the first instance with an
// observation above MaxScaled times the portfolio's scale (a model that
// sees each instance alone scales each by its own mean, which no
// observation can exceed by more than n_k).
func CheckRange(p *data.Portfolio) error {
	s := portfolioScale(p)
	for k, o := range p.Obs {
		for _, x := range o {
			if x/s > MaxScaled {
				return fmt.Errorf("%s: instance %q: observation %g is %.3g times the portfolio's scale (median instance mean %g); the Transformer takes at most %g times it: check the data, or decide this instance apart",
					p.Source, p.IDs[k], x, x/s, s, MaxScaled)
			}
		}
	}
	return nil
}

// checkInput is what Decide, DecideWhole and SelectRule require of p: a
// valid portfolio within the model's range.
func checkInput(p *data.Portfolio) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return CheckRange(p)
}

// Decide implements baseline.Policy: one decision per instance, floored
// at zero, in the portfolio's units. A portfolio whose sales levels fall
// into groups far apart is decided group by group (groups.go). An
// experts model first picks, on p's held-out observations, the strength
// of its learned head or one of its expert rules alone (strength.go,
// SelectRule; FullStrength skips that). Where p holds more products that
// sell one positive amount every day than chance explains, each of them
// orders that amount and the others are decided apart (constant.go), as
// are never-sellers among counts that vary beyond Poisson
// (neversellers.go). Whole numbers whose spread does not grow with their
// level as counts' does, that vary less than Poisson days, whose days
// look log-normal or two-mode rather than negative binomial, or that are
// high and seen once, are decided as continuous demand recorded in units
// (wholeunits.go). Before all of it, gross errors (an
// observation far above its product's other days, the portfolio's cap
// and its log-scale spread) are left out (grosserrors.go).
func (m *Model) Decide(p *data.Portfolio) ([]float64, error) {
	if err := checkInput(p); err != nil {
		return nil, err
	}
	if q, ok, err := decideWithoutGrossErrors(p, m.Decide); ok {
		return q, err
	}
	if q, ok, err := decideApart(p, loneSplit, m.Decide); ok {
		return q, err
	}
	if q, ok, err := decideAsContinuous(p, m.Decide); ok {
		return q, err
	}
	if q, ok, err := decideApart(p, constantSplit, m.Decide); ok {
		return q, err
	}
	if q, ok, err := decideApart(p, neverSellersSplit, m.Decide); ok {
		return q, err
	}
	if q, ok, err := decideByGroups(p, m.Decide); ok {
		return q, err
	}
	k := p.Len()
	if m.Config.Inducing == 0 && !m.Config.NoCrossAttention && m.Config.Heads*k*k > maxAttentionEntries {
		return nil, fmt.Errorf("model: full attention over K = %d instances is too large; use a model trained with inducing points (--inducing)", k)
	}
	r, err := m.selectRule(p, false)
	if err != nil {
		return nil, err
	}
	q, err := m.decideBy(p, r, m.streams(p))
	if err != nil {
		return nil, err
	}
	return q, nil
}

// DecideWhole is Decide with the portfolio (and the rule selection's
// folds) laid out whole, never streamed (the reference that streamed
// decisions are checked against).
func (m *Model) DecideWhole(p *data.Portfolio) ([]float64, error) {
	if err := checkInput(p); err != nil {
		return nil, err
	}
	if q, ok, err := decideWithoutGrossErrors(p, m.DecideWhole); ok {
		return q, err
	}
	if q, ok, err := decideApart(p, loneSplit, m.DecideWhole); ok {
		return q, err
	}
	if q, ok, err := decideAsContinuous(p, m.DecideWhole); ok {
		return q, err
	}
	if q, ok, err := decideApart(p, constantSplit, m.DecideWhole); ok {
		return q, err
	}
	if q, ok, err := decideApart(p, neverSellersSplit, m.DecideWhole); ok {
		return q, err
	}
	if q, ok, err := decideByGroups(p, m.DecideWhole); ok {
		return q, err
	}
	r, err := m.selectRule(p, true)
	if err != nil {
		return nil, err
	}
	q, err := m.decideBy(p, r, false)
	if err != nil {
		return nil, err
	}
	return q, nil
}

func (m *Model) decide(p *data.Portfolio, stream bool) ([]float64, error) {
	return m.decisions(p, nil, stream)
}

// decisions are m's decisions on p in p's units, floored at zero: streamed,
// or from bt (laid out here when nil), p's batch in m's layout.
func (m *Model) decisions(p *data.Portfolio, bt *Batch, stream bool) ([]float64, error) {
	var q []float32
	var scale []float64
	if stream {
		var err error
		if q, scale, err = m.decideStreamed(p); err != nil {
			return nil, err
		}
	} else {
		if bt == nil {
			bt = m.NewBatch([]*data.Portfolio{p}, 0, 0)
		}
		var err error
		if q, err = m.Predict(bt); err != nil {
			return nil, err
		}
		scale = bt.Scale
	}
	out := make([]float64, p.Len())
	for i := range out {
		out[i] = max(0, float64(q[i])*scale[i])
	}
	return out, nil
}
