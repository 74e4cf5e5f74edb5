package train

import (
	stdcontext "context"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
)

// Random context/held-out splits and their layout as the loop's data.

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

// batchKey names a run of splits that is laid out more than once: the
// validation splits, a pooled step's shards.
type batchKey struct {
	first *split
	n     int
}

// batchCacheBytes bounds the memoised batches' memory.
const batchCacheBytes = 256 << 20

// batchOf lays the splits' contexts out as one batch. Laying out fits the
// experts' portfolio statistics (nonparametric EM, cross-validation), the
// costliest part of a step, so splits that recur (reuse) keep their batch
// while the memo stays within batchCacheBytes.
func (f *finetuner) batchOf(ss []split, reuse bool) *model.Batch {
	key := batchKey{&ss[0], len(ss)}
	if reuse {
		f.mu.Lock()
		bt, ok := f.batches[key]
		f.mu.Unlock()
		if ok {
			return bt
		}
	}
	ps := make([]*data.Portfolio, len(ss))
	for i, s := range ss {
		ps[i] = s.ctx
	}
	bt := f.m.NewBatch(ps, 0, 0)
	if reuse {
		size := 4 * (len(bt.Obs) + len(bt.ObsMask) + len(bt.Inst) + len(bt.Feats) + len(bt.Head) + 2*len(bt.Scale))
		f.mu.Lock()
		if f.batches == nil {
			f.batches = map[batchKey]*model.Batch{}
		}
		if f.cachedBytes+size <= batchCacheBytes {
			f.batches[key] = bt
			f.cachedBytes += size
		}
		f.mu.Unlock()
	}
	return bt
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
// first split's (cost evaluates one split at a time). Splits that recur
// (reuse) keep their batch (batchOf).
func (f *finetuner) tensors(ss []split, validation, reuse bool) (args []any, unit float64, points float64) {
	bt := f.batchOf(ss, reuse)
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

// finetuneData is the finetuning loop's dataset: each Yield takes the
// next step's splits (from the pool, or drawn afresh) and lays them out,
// the held-out points as labels.
type finetuneData struct {
	ctx  stdcontext.Context
	f    *finetuner
	rng  *rand.Rand
	pool [][]split // FinetuneOptions.SplitPool steps' splits; nil: fresh ones
	step int       // the next step, which picks its pooled splits
}

func (d *finetuneData) Name() string { return "finetune/" + d.f.p.Source }

func (d *finetuneData) Reset() {}

func (d *finetuneData) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	if err := d.ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	var ss []split
	if d.pool != nil {
		ss = d.pool[d.step%len(d.pool)]
	} else {
		ss = d.f.splits(d.rng, d.f.o.Splits)
	}
	d.step++
	bounds := shardBounds(len(ss), concurrency(d.f.m))
	shards := make([][]any, len(bounds))
	counts := make([]float64, len(bounds))
	var wg sync.WaitGroup
	for s, r := range bounds {
		wg.Go(func() { shards[s], _, counts[s] = d.f.tensors(ss[r[0]:r[1]], false, d.pool != nil) })
	}
	wg.Wait()
	count := 0.0
	for _, n := range counts {
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
