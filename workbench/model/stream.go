package model

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/data"
)

// Streamed decisions. A portfolio laid out whole costs memory in K times
// the largest n_k (every instance is padded to it) and in K times the
// model's width for every intermediate. Decide instead streams large
// portfolios, and portfolios whose histories differ much in length:
//   - instances are sorted by n_k and cut into chunks whose padded size
//     (rows x observations) stays within streamObsBudget, so a long history
//     pads only its own chunk;
//   - each chunk is encoded on its own (the encoder is per instance), and
//     the per-instance state h (K x width floats) is kept;
//   - an inducing-point block needs the whole portfolio only through its
//     summary attention: each chunk gives its softmax maximum, sum and
//     weighted values, the chunks combine exactly (online softmax), and
//     each chunk then passes through the rest of the block; no-attention
//     blocks and the head are per instance;
//   - a full-attention model runs its blocks and head over the whole h at
//     once (it is limited to K of a few thousand anyway).
//
// Memory is then bounded by the chunk size plus K x width, independent of
// the longest history.

const (
	// streamRows is the most instances in a chunk.
	streamRows = 4096
	// streamObsBudget bounds a chunk's padded observations (rows x n).
	streamObsBudget = 1 << 17
)

// streams reports whether Decide streams p.
func (m *Model) streams(p *data.Portfolio) bool {
	if m.forceStream > 0 {
		return true
	}
	k, total, longest := p.Len(), 0, 0
	for _, o := range p.Obs {
		total += len(o)
		longest = max(longest, len(o))
	}
	return k > 2*streamRows || (k*longest > streamObsBudget && k*longest > 4*total)
}

// chunk is a set of instances (indices into the portfolio) laid out as
// rows x n.
type chunk struct {
	idx     []int
	rows, n int
}

// chunks sorts instances by history length and cuts them into chunks of
// at most maxRows rows within the observation budget; n and rows are
// rounded up to powers of two so that few shapes are compiled.
func chunks(p *data.Portfolio, maxRows int) []chunk {
	order := make([]int, p.Len())
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(p.Obs[a]) - len(p.Obs[b]) })
	var out []chunk
	for i := 0; i < len(order); {
		rows := min(maxRows, pow2(len(order)-i))
		for {
			end := min(len(order), i+rows)
			n := pow2(len(p.Obs[order[end-1]]))
			if rows == 1 || rows*n <= streamObsBudget {
				out = append(out, chunk{idx: order[i:end], rows: rows, n: n})
				i = end
				break
			}
			rows /= 2
		}
	}
	return out
}

func pow2(x int) int {
	if x <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(x-1))
}

// streamExecs are the graph pieces of a streamed decision, built once,
// one set per ensemble member.
type streamExecs struct {
	once    sync.Once
	err     error
	members []memberExecs
}

// memberExecs are one member's streamed graph pieces.
type memberExecs struct {
	encode  *shapeExec   // Obs, ObsMask, Feats -> h [1,C,W]
	partial []*shapeExec // per block: h, Inst -> mx, s, acc
	apply   []*shapeExec // per block: h, ctxv (inducing) or h (no attention) -> h
	head    *shapeExec   // h, Head -> q
	rest    *shapeExec   // full attention: h, Inst, Head -> q
}

func (m *Model) streamPieces() (*streamExecs, error) {
	se := &m.stream
	se.once.Do(func() {
		for i := range m.Config.members() {
			se.members = append(se.members, m.memberPieces(i, &se.err))
		}
	})
	return se, se.err
}

// memberPieces builds member i's streamed graph pieces; the first failure
// lands in *errp.
func (m *Model) memberPieces(i int, errp *error) memberExecs {
	var me memberExecs
	b := m.b
	newExec := func(f func(ctx *context.Context, x []*Node) []*Node) *shapeExec {
		if *errp != nil {
			return nil
		}
		e, err := newShapeExec(func() (*context.Exec, error) {
			return context.NewExec(m.backend, m.ctx, func(ctx *context.Context, x []*Node) []*Node {
				return f(memberContext(ctx.Checked(false), i), x)
			})
		})
		if err != nil {
			*errp = err
			return nil
		}
		return e
	}
	me.encode = newExec(func(ctx *context.Context, x []*Node) []*Node {
		return []*Node{b.encode(ctx, Inputs{Obs: x[0], ObsMask: x[1], Feats: x[2]})}
	})
	head := func(ctx *context.Context, h *Node, x []*Node) *Node {
		return b.head(ctx, h, Inputs{Head: x[0]})
	}
	if m.Config.Inducing == 0 && !m.Config.NoCrossAttention {
		me.rest = newExec(func(ctx *context.Context, x []*Node) []*Node {
			h := x[0]
			for l := range b.cfg.Blocks {
				h = b.block(ctx.Inf("block_%d", l), h, x[1])
			}
			return []*Node{head(ctx, h, x[2:])}
		})
		return me
	}
	for l := range b.cfg.Blocks {
		if !b.cfg.NoCrossAttention {
			me.partial = append(me.partial, newExec(func(ctx *context.Context, x []*Node) []*Node {
				mx, s, acc := b.summaryPartial(ctx.Inf("block_%d", l), x[0], x[1])
				return []*Node{mx, s, acc}
			}))
			me.apply = append(me.apply, newExec(func(ctx *context.Context, x []*Node) []*Node {
				return []*Node{b.blockWithSummary(ctx.Inf("block_%d", l), x[0], x[1])}
			}))
		} else {
			me.apply = append(me.apply, newExec(func(ctx *context.Context, x []*Node) []*Node {
				return []*Node{b.block(ctx.Inf("block_%d", l), x[0], nil)}
			}))
		}
	}
	me.head = newExec(func(ctx *context.Context, x []*Node) []*Node {
		return []*Node{head(ctx, x[0], x[1:])}
	})
	return me
}

// decideStreamed is Decide for portfolios streams selects; it returns
// decisions in scaled units and each instance's scale, in p's instance
// order.
func (m *Model) decideStreamed(p *data.Portfolio) ([]float32, []float64, error) {
	se, err := m.streamPieces()
	if err != nil {
		return nil, nil, err
	}
	maxRows := streamRows
	if m.forceStream > 0 {
		maxRows = m.forceStream
	}
	var st *portfolioStats // nil: each instance alone
	if !m.Config.NoCrossAttention {
		s := newPortfolioStats(p, m.Config.layout())
		st = &s
	}
	cs := chunks(p, maxRows)
	w := m.Config.Width
	k := p.Len()
	// Per-instance state of each member, in p's order.
	hs := make([][]float32, len(se.members))
	for i := range hs {
		hs[i] = make([]float32, k*w)
	}
	batches := make([]*Batch, len(cs))
	workers := backend.Concurrency(m.backend)

	// forChunks runs f on every chunk, workers at a time, and returns the
	// first error.
	forChunks := func(f func(ci int) error) error {
		var wg sync.WaitGroup
		errs := make([]error, len(cs))
		next := make(chan int)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ci := range next {
					errs[ci] = f(ci)
				}
			}()
		}
		for ci := range cs {
			next <- ci
		}
		close(next)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	tensor := func(x []float32, dims ...int) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(x, dims...) }
	// scales gathers each instance's scale from its chunk's batch.
	scales := func() []float64 {
		sc := make([]float64, k)
		for ci, c := range cs {
			for r, ki := range c.idx {
				sc[ki] = batches[ci].Scale[r]
			}
		}
		return sc
	}
	// hChunk gathers a chunk's rows of h (padding rows zero).
	hChunk := func(h []float32, c chunk) *tensors.Tensor {
		x := make([]float32, c.rows*w)
		for r, ki := range c.idx {
			copy(x[r*w:(r+1)*w], h[ki*w:(ki+1)*w])
		}
		return tensor(x, 1, c.rows, w)
	}
	scatter := func(h []float32, c chunk, t *tensors.Tensor) {
		x := tensors.MustCopyFlatData[float32](t)
		for r, ki := range c.idx {
			copy(h[ki*w:(ki+1)*w], x[r*w:(r+1)*w])
		}
	}

	// Each chunk is laid out once (features and experts) for every member.
	err = forChunks(func(ci int) error {
		c := cs[ci]
		bt := newRowsBatch(p, st, c.idx, c.rows, c.n, m.Config.layout())
		for i, me := range se.members {
			out, err := me.encode.Exec(tensor(bt.Obs, 1, c.rows, c.n, 2), tensor(bt.ObsMask, 1, c.rows, c.n),
				tensor(bt.Feats, 1, c.rows, bt.F))
			if err != nil {
				return err
			}
			scatter(hs[i], c, out[0])
		}
		// Only what the blocks and head read is kept.
		batches[ci] = &Batch{H: bt.H, Inst: bt.Inst, Head: bt.Head, Scale: bt.Scale}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}

	q := make([]float32, k)
	// add adds a member's decisions x (rows of chunk c, or of the whole
	// portfolio in p's order for c nil) to q; chunks hold disjoint
	// instances, so concurrent adds of different chunks do not race.
	add := func(c *chunk, x []float32) {
		if c == nil {
			for ki := range q {
				q[ki] += x[ki]
			}
			return
		}
		for r, ki := range c.idx {
			q[ki] += x[r]
		}
	}
	for i, me := range se.members {
		h := hs[i]
		if me.rest != nil {
			// Full attention: blocks and head over the whole portfolio.
			hw := batches[0].H
			inst, head := make([]float32, k), make([]float32, k*hw)
			for ci, c := range cs {
				for r, ki := range c.idx {
					bt := batches[ci]
					inst[ki] = bt.Inst[r]
					copy(head[ki*hw:(ki+1)*hw], bt.Head[r*hw:(r+1)*hw])
				}
			}
			out, err := me.rest.Exec(tensor(h, 1, k, w), tensor(inst, 1, k), tensor(head, 1, k, hw))
			if err != nil {
				return nil, nil, err
			}
			add(nil, tensors.MustCopyFlatData[float32](out[0]))
			continue
		}
		for l := range m.Config.Blocks {
			var ctxv []float32
			if len(me.partial) > 0 {
				parts := make([][3][]float32, len(cs))
				err = forChunks(func(ci int) error {
					out, err := me.partial[l].Exec(hChunk(h, cs[ci]), tensor(batches[ci].Inst, 1, cs[ci].rows))
					if err != nil {
						return err
					}
					for j := range 3 {
						parts[ci][j] = tensors.MustCopyFlatData[float32](out[j])
					}
					return nil
				})
				if err != nil {
					return nil, nil, err
				}
				ctxv = combineSummaries(parts, m.Config.Heads, m.Config.Inducing, w/m.Config.Heads)
			}
			err = forChunks(func(ci int) error {
				args := []any{hChunk(h, cs[ci])}
				if ctxv != nil {
					// A tensor per chunk: GoMLX v0.26.0 moves an argument
					// tensor to the device unguarded, so concurrent
					// executions must not share one.
					args = append(args, tensor(ctxv, 1, m.Config.Heads, m.Config.Inducing, w/m.Config.Heads))
				}
				out, err := me.apply[l].Exec(args...)
				if err != nil {
					return err
				}
				scatter(h, cs[ci], out[0])
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
		}
		err = forChunks(func(ci int) error {
			c, bt := cs[ci], batches[ci]
			out, err := me.head.Exec(hChunk(h, c), tensor(bt.Head, 1, c.rows, bt.H))
			if err != nil {
				return err
			}
			add(&c, tensors.MustCopyFlatData[float32](out[0]))
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if n := len(se.members); n > 1 {
		inv := float32(1 / float64(n)) // as graph scales the members' sum
		for j := range q {
			q[j] *= inv
		}
	}
	return q, scales(), nil
}

// combineSummaries merges the chunks' partial softmaxes (max, sum,
// weighted values, per head and inducing point) into the attention's
// output ctxv [1,H,M,d] (flat), in float64.
func combineSummaries(parts [][3][]float32, heads, m, d int) []float32 {
	hm := heads * m
	g := make([]float64, hm)
	for i := range g {
		g[i] = math.Inf(-1)
	}
	for _, p := range parts {
		for i, v := range p[0] {
			g[i] = max(g[i], float64(v))
		}
	}
	sum := make([]float64, hm)
	acc := make([]float64, hm*d)
	for _, p := range parts {
		for i := range hm {
			f := math.Exp(float64(p[0][i]) - g[i])
			sum[i] += f * float64(p[1][i])
			for j := range d {
				acc[i*d+j] += f * float64(p[2][i*d+j])
			}
		}
	}
	out := make([]float32, hm*d)
	for i := range hm {
		for j := range d {
			out[i*d+j] = float32(acc[i*d+j] / sum[i])
		}
	}
	return out
}

// describeChunks lists the chunking of p at maxRows rows (rows x n, and
// instances), for tests and diagnostics.
func describeChunks(p *data.Portfolio, maxRows int) string {
	s := ""
	for _, c := range chunks(p, maxRows) {
		s += fmt.Sprintf("%dx%d(%d) ", c.rows, c.n, len(c.idx))
	}
	return s
}
