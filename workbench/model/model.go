// Package model is ptft's problem-specific Transformer (DESIGN.md §3), in
// GoMLX: one token per instance, never per position.
//
//   - A set encoder embeds each observation of an instance and pools them
//     with masks, so the model is invariant to the order of an instance's
//     observations and handles any n_k.
//   - Summary statistics (mean, std, min, max, median, log n, logit rho,
//     z_rho, the SAA quantile, portfolio-level pooled std and mean) join the
//     pooled embedding.
//   - L blocks of masked multi-head self-attention across instances plus an
//     MLP, pre-layer-norm with residuals; no positional encoding, so the
//     model is equivariant to permuting instances. The inducing-point
//     variant (Config.Inducing = M > 0) attends through M learned summary
//     tokens at cost O(K M) instead of O(K^2).
//   - Each portfolio is divided by a robust scale (the median instance
//     mean) before the model and decisions are multiplied back, so one
//     model serves any demand level and decisions scale with the data.
//   - The head outputs q = mean_k + s (z_rho + f(h_k)), s the portfolio's
//     pooled within-instance std, with the last layer initialised at zero:
//     at initialisation the model is the normal plug-in quantile.
//   - With Config.Experts (the shipped default), the features are robust
//     portfolio statistics (outlying instances left out of the pooled
//     estimates) and the head mixes eight classical decisions computed
//     from them (SAA; normal empirical Bayes; the same on log demand, on
//     observations capped at the grand mean plus six predictive
//     standard deviations, and with the portfolio's pooled relative
//     residuals; npmle-log; gamma-Poisson and npmle-poisson for counts)
//     with per-instance weights led by their leave-one-out costs,
//     corrects the mixture, and returns the constant of an instance
//     whose non-integer observations are all equal (experts.go). Decide
//     then picks how much of the learned head to apply on this portfolio
//     by its held-out cost (strength.go).
//
// The attention is ours: GoMLX v0.26.0's layers.MultiHeadAttention scales
// logits by 1/d instead of 1/sqrt(d) and drops a [batch,q,k] mask.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// Config is the architecture.
type Config struct {
	Width  int `json:"width"`
	Blocks int `json:"blocks"`
	Heads  int `json:"heads"`
	// MLPRatio is the hidden width of each block's MLP, in multiples of Width.
	MLPRatio int `json:"mlp_ratio"`
	// Inducing is M, the number of inducing points; 0 selects full
	// attention across instances.
	Inducing int `json:"inducing"`
	// Adapters is the rank of low-rank adapters added to the attention and
	// MLP weights for finetuning (0: none). Adapters start at zero, so
	// adding them leaves the model's decisions unchanged.
	Adapters int `json:"adapters,omitempty"`
	// NoCrossAttention drops the attention across instances (an ablation:
	// each instance is decided from its own data alone).
	NoCrossAttention bool `json:"no_cross_attention,omitempty"`
	// Experts selects the experts layout (experts.go): robust portfolio
	// statistics in the features, and a head that mixes classical
	// decisions (SAA, normal and log-normal empirical Bayes,
	// gamma-Poisson) with learned weights and corrects the mixture.
	Experts bool `json:"experts,omitempty"`
	// Members is the number of independently pretrained networks of this
	// architecture whose decisions the model averages (0 and 1: one); see
	// Ensemble. Member 0's variables keep the single model's scopes, member
	// i's lie under memberScope(i).
	Members int `json:"members,omitempty"`
}

// String describes the architecture in words (error messages).
func (c Config) String() string {
	s := fmt.Sprintf("width %d, %d blocks, %d heads, MLP ratio %d", c.Width, c.Blocks, c.Heads, c.MLPRatio)
	switch {
	case c.NoCrossAttention:
		s += ", no cross-instance attention"
	case c.Inducing > 0:
		s += fmt.Sprintf(", %d inducing points", c.Inducing)
	default:
		s += ", full attention"
	}
	if c.Experts {
		s += ", experts layout"
	}
	if c.Adapters > 0 {
		s += fmt.Sprintf(", adapters of rank %d", c.Adapters)
	}
	if c.Members > 1 {
		s += fmt.Sprintf(", ensemble of %d", c.Members)
	}
	return s
}

// DefaultConfig is a 2-block, width-64, 4-head model.
func DefaultConfig() Config { return Config{Width: 64, Blocks: 2, Heads: 4, MLPRatio: 2} }

// Validate checks the architecture.
func (c Config) Validate() error {
	if c.Width < 1 || c.Blocks < 0 || c.Heads < 1 || c.MLPRatio < 1 || c.Inducing < 0 || c.Adapters < 0 || c.Members < 0 {
		return fmt.Errorf("model: invalid config %+v", c)
	}
	if c.Width%c.Heads != 0 {
		return fmt.Errorf("model: width %d not divisible by %d heads", c.Width, c.Heads)
	}
	return nil
}

// layerNormEpsilon is set explicitly: GoMLX's default is 1e-3.
const layerNormEpsilon = 1e-5

// builder creates variables on first use with values drawn from a seeded
// source, so the same seed gives the same initial model on any backend.
type builder struct {
	cfg Config
	rng *rand.Rand
	// damp in [0, 1] scales the experts head's learned logits and
	// corrections by 1 - damp: 0 (the trained model) in training, set by
	// Decide's rule selection on copies that share the variables.
	damp float64
}

// param returns the variable name in ctx's scope, creating it with
// N(0, std^2) entries (zeros when std is 0) if it does not exist.
func (b *builder) param(ctx *context.Context, g *Graph, name string, std float64, dims ...int) *Node {
	if v := ctx.GetVariableByScopeAndName(ctx.Scope(), name); v != nil {
		return v.ValueGraph(g)
	}
	n := 1
	for _, d := range dims {
		n *= d
	}
	flat := make([]float32, n)
	if std > 0 {
		for i := range flat {
			flat[i] = float32(std * b.rng.NormFloat64())
		}
	}
	return ctx.VariableWithValue(name, tensors.FromFlatDataAndDimensions(flat, dims...)).ValueGraph(g)
}

// dense is x·W + b over x's last axis; W ~ N(0, 1/fan_in) (zeros with zero).
func (b *builder) dense(ctx *context.Context, x *Node, out int, zero bool) *Node {
	ctx = ctx.Checked(false)
	in := x.Shape().Dimensions[x.Rank()-1]
	std := 1 / math.Sqrt(float64(in))
	if zero {
		std = 0
	}
	w := b.param(ctx, x.Graph(), "weights", std, in, out)
	bias := b.param(ctx, x.Graph(), "bias", 0, out)
	// Flattened to one [rows, in]·[in, out] matmul: the pure-Go backend
	// runs 2-D products (and their gradients) much faster than the same
	// contraction over several leading axes.
	lead := x.Shape().Dimensions[:x.Rank()-1]
	flat := Reshape(x, -1, in)
	y := Dot(flat, w)
	if r := b.cfg.Adapters; r > 0 && adaptable(ctx.Scope()) {
		// Low-rank adapter x·A·B, B starting at zero.
		a := b.param(ctx, x.Graph(), AdapterA, 1/math.Sqrt(float64(in)), in, r)
		bb := b.param(ctx, x.Graph(), AdapterB, 0, r, out)
		y = Add(y, Dot(Dot(flat, a), bb))
	}
	y = Add(y, BroadcastToDims(Reshape(bias, 1, out), y.Shape().Dimensions...))
	return Reshape(y, append(slices.Clone(lead), out)...)
}

// Group is the part of the model a variable belongs to, for choosing what
// finetuning trains.
type Group int

const (
	// NotModel: an optimizer's or the training loop's variable.
	NotModel Group = iota
	// Encoder: the per-instance set encoder and feature embedding.
	Encoder
	// Block: a cross-instance block other than the last.
	Block
	// LastBlock: the last cross-instance block.
	LastBlock
	// Head: the decision head.
	Head
	// Adapter: a low-rank adapter (either factor).
	Adapter
)

// GroupOf names the group of a variable (by scope and name, as
// context.Variable.ScopeAndName gives it).
func (m *Model) GroupOf(scopeAndName string) Group {
	if !IsModelVariable(scopeAndName) {
		return NotModel
	}
	if strings.HasSuffix(scopeAndName, "/"+AdapterA) || strings.HasSuffix(scopeAndName, "/"+AdapterB) {
		return Adapter
	}
	top := topScope(scopeAndName)
	switch {
	case slices.Contains(headScopes, top):
		return Head
	case slices.Contains(encoderScopes, top):
		return Encoder
	}
	if top == fmt.Sprintf("block_%d", m.Config.Blocks-1) {
		return LastBlock
	}
	return Block
}

// NumInputs is the number of batch inputs the model's graph takes
// (InputTensors and InputsOf); a graph built on the model takes its own
// inputs after them.
const NumInputs = 5

// SplitInputs separates the model's batch inputs from those that follow.
func SplitInputs(x []*Node) (Inputs, []*Node) {
	return InputsOf(x[:NumInputs]), x[NumInputs:]
}

// IsModelVariable reports whether a variable (by scope and name, as
// context.Variable.ScopeAndName gives it) is one of the model's own, rather
// than an optimizer's (learning rate, step counters, Adam's moments) or
// GoMLX's training loop's.
func IsModelVariable(scopeAndName string) bool {
	top := topScope(scopeAndName)
	return slices.Contains(encoderScopes, top) || slices.Contains(headScopes, top) || strings.HasPrefix(top, "block_")
}

// The model's top-level scopes outside the blocks (block_0, block_1, ...).
var (
	encoderScopes = []string{"obs_embed", "set_rho", "feat_embed"}
	headScopes    = []string{"norm_head", "head_1", "head_2", "head_scale", "head_shift", "head_const", "head_cv"}
)

// topScope is the first scope of a variable's scope and name within its
// network (an ensemble member's scope left out).
func topScope(scopeAndName string) string {
	top, rest, _ := strings.Cut(strings.TrimPrefix(scopeAndName, "/"), "/")
	if isMemberScope(top) {
		top, _, _ = strings.Cut(rest, "/")
	}
	return top
}

// isMemberScope reports whether a top-level scope is memberScope(i) for
// some i >= 1.
func isMemberScope(top string) bool {
	digits, ok := strings.CutPrefix(top, "member_")
	i, err := strconv.Atoi(digits)
	return ok && err == nil && i >= 1 && memberScope(i) == top
}

// Names of the adapter variables.
const (
	AdapterA = "adapter_a"
	AdapterB = "adapter_b"
)

// adaptable reports whether a dense layer gets adapters: the attention and
// MLP weights of the cross-instance blocks.
func adaptable(scope string) bool {
	return strings.Contains(scope, "/attn") || strings.Contains(scope, "/mlp_")
}

func layerNorm(ctx *context.Context, x *Node) *Node {
	return layers.LayerNormalization(ctx.Checked(false), x, -1).Epsilon(layerNormEpsilon).Done()
}

// attention is multi-head attention of queries q [B,Q,W] over keys/values
// kv [B,S,W], with keyMask [B,S] (1 = attend) or nil; logits are scaled by
// 1/sqrt(d) for head dimension d.
func (b *builder) attention(ctx *context.Context, q, kv, keyMask *Node) *Node {
	logits, vh := b.attentionLogits(ctx, q, kv, keyMask)
	bsz, nq, w := q.Shape().Dimensions[0], q.Shape().Dimensions[1], b.cfg.Width
	probs := Softmax(logits, -1)
	// [B,H,Q,S]·[B,S,H,d] -> [B,H,Q,d]
	ctxv := DotGeneral(probs, []int{3}, []int{0, 1}, vh, []int{1}, []int{0, 2})
	ctxv = Reshape(TransposeAllAxes(ctxv, 0, 2, 1, 3), bsz, nq, w)
	return b.dense(ctx.In("output"), ctxv, w, false)
}

// attentionLogits projects queries q [B,Q,W] and keys/values kv [B,S,W]
// into heads and returns the scaled, masked logits [B,H,Q,S] (keyMask
// [B,S], 1 = attend, or nil) and the values [B,S,H,d].
func (b *builder) attentionLogits(ctx *context.Context, q, kv, keyMask *Node) (logits, vh *Node) {
	dims := q.Shape().Dimensions
	bsz, nq, w := dims[0], dims[1], dims[2]
	ns := kv.Shape().Dimensions[1]
	h := b.cfg.Heads
	d := w / h
	split := func(name string, x *Node, n int) *Node {
		return Reshape(b.dense(ctx.In(name), x, w, false), bsz, n, h, d)
	}
	qh, kh, vh := split("query", q, nq), split("key", kv, ns), split("value", kv, ns)
	// [B,Q,H,d]·[B,S,H,d] -> [B,H,Q,S]
	logits = DotGeneral(qh, []int{3}, []int{0, 2}, kh, []int{3}, []int{0, 2})
	logits = MulScalar(logits, 1/math.Sqrt(float64(d)))
	if keyMask != nil {
		// Additive mask: -1e9 on padded keys.
		m := Reshape(keyMask, bsz, 1, 1, ns)
		logits = Add(logits, BroadcastToDims(MulScalar(AddScalar(m, -1), 1e9), bsz, h, nq, ns))
	}
	return logits, vh
}

// Inputs are the graph inputs of one batch, shaped as Batch describes.
type Inputs struct {
	Obs, ObsMask, Inst, Feats, Head *Node
}

// graph builds q [B,K] in scaled units: the mean of the members'
// decisions.
func (b *builder) graph(ctx *context.Context, in Inputs) *Node {
	ctx = ctx.Checked(false)
	q := b.member(ctx, in)
	for i := 1; i < b.cfg.members(); i++ {
		q = Add(q, b.member(memberContext(ctx, i), in))
	}
	if n := b.cfg.members(); n > 1 {
		q = MulScalar(q, 1/float64(n))
	}
	return q
}

// members is the number of networks the model averages.
func (c Config) members() int { return max(1, c.Members) }

// memberScope is the top-level scope of ensemble member i >= 1's
// variables.
func memberScope(i int) string { return fmt.Sprintf("member_%d", i) }

// memberContext is ctx in member i's scope.
func memberContext(ctx *context.Context, i int) *context.Context {
	if i == 0 {
		return ctx
	}
	return ctx.In(memberScope(i))
}

// member builds one network's decisions q [B,K] in ctx's scope.
func (b *builder) member(ctx *context.Context, in Inputs) *Node {
	h := b.encode(ctx, in)
	for l := range b.cfg.Blocks {
		h = b.block(ctx.Inf("block_%d", l), h, in.Inst)
	}
	return b.head(ctx, h, in)
}

// encode is the per-instance part: the set encoder over each instance's
// observations plus its features, h [B,K,W]. It reads Obs, ObsMask and
// Feats only.
func (b *builder) encode(ctx *context.Context, in Inputs) *Node {
	ctx = ctx.Checked(false)
	dims := in.ObsMask.Shape().Dimensions
	bsz, k, n := dims[0], dims[1], dims[2]
	w := b.cfg.Width
	// Set encoder over observations (DeepSets: rho(mean phi(x))), masked
	// mean pooling. phi is one layer so that the per-observation work,
	// n_k times the per-instance work, stays small; rho runs per instance.
	tok := activations.Gelu(b.dense(ctx.In("obs_embed"), in.Obs, w, false))
	mask := Reshape(in.ObsMask, bsz, k, n, 1)
	tok = Mul(tok, BroadcastToDims(mask, bsz, k, n, w))
	count := Max(ReduceSum(in.ObsMask, 2), OnesLike(ReduceSum(in.ObsMask, 2)))
	pooled := Div(ReduceSum(tok, 2), BroadcastToDims(Reshape(count, bsz, k, 1), bsz, k, w))
	pooled = b.dense(ctx.In("set_rho"), pooled, w, false)
	return Add(pooled, b.dense(ctx.In("feat_embed"), in.Feats, w, false))
}

// block is one cross-instance block (blk is its scope) over h [B,K,W].
func (b *builder) block(blk *context.Context, h, inst *Node) *Node {
	if !b.cfg.NoCrossAttention {
		a := layerNorm(blk.In("norm_attn"), h)
		if m := b.cfg.Inducing; m > 0 {
			summary := b.attention(blk.In("attn_summarise"), b.inducingPoints(blk, h), a, inst)
			h = Add(h, b.attention(blk.In("attn_broadcast"), a, summary, nil))
		} else {
			h = Add(h, b.attention(blk.In("attn"), a, a, inst))
		}
	}
	return b.mlp(blk, h)
}

// inducingPoints returns the block's M learned summary queries [B,M,W].
func (b *builder) inducingPoints(blk *context.Context, h *Node) *Node {
	bsz, m, w := h.Shape().Dimensions[0], b.cfg.Inducing, b.cfg.Width
	ind := b.param(blk.In("inducing"), h.Graph(), "points", 1, m, w)
	return BroadcastToDims(Reshape(ind, 1, m, w), bsz, m, w)
}

// mlp is the block's residual MLP.
func (b *builder) mlp(blk *context.Context, h *Node) *Node {
	w := b.cfg.Width
	a := layerNorm(blk.In("norm_mlp"), h)
	a = b.dense(blk.In("mlp_1"), a, w*b.cfg.MLPRatio, false)
	return Add(h, b.dense(blk.In("mlp_2"), activations.Gelu(a), w, false))
}

// head turns h [B,K,W] into q [B,K]. Legacy: q = base + spread (z +
// f(h)). Experts layout: the experts mixed by softmax weights of logits
// 2 tanh(g(h)/2) - beta cv (cv the experts' cross-validated log costs),
// corrected as mix exp(0.3 tanh(f1(h)/0.3)) + s 0.5 tanh(f2(h)/0.5) (s
// the normal fit's predictive std), and, for an instance whose
// observations are all equal, set to that value (a "certain" constant)
// or pulled to it by a learned gate
// c(h) (a "possible" one, in integer data): q = c saa + (1-c) q'.
// The last layer starts at zero: an untrained experts model orders the
// cross-validation-weighted mixture of the experts, an untrained legacy
// model the normal plug-in quantile.
func (b *builder) head(ctx *context.Context, h *Node, in Inputs) *Node {
	ctx = ctx.Checked(false)
	w := b.cfg.Width
	dims := h.Shape().Dimensions
	bsz, k := dims[0], dims[1]
	hw := in.Head.Shape().Dimensions[2]
	// Columns are taken by products with constant selectors: the pure-Go
	// backend lacks Pad, the gradient of Slice.
	flatHead := Reshape(in.Head, -1, hw)
	cols := func(from, n int) *Node {
		sel := make([]float32, hw*n)
		for j := range n {
			sel[(from+j)*n+j] = 1
		}
		return Reshape(Dot(flatHead, Const(h.Graph(), tensors.FromFlatDataAndDimensions(sel, hw, n))), bsz, k, n)
	}
	col := func(j int) *Node { return Reshape(cols(j, 1), bsz, k) }
	out := layerNorm(ctx.In("norm_head"), h)
	out = activations.Gelu(b.dense(ctx.In("head_1"), out, w, false))
	if !b.cfg.Experts {
		f := Reshape(b.dense(ctx.In("head_2"), out, 1, true), bsz, k)
		return Add(col(0), Mul(col(1), Add(col(2), f)))
	}
	experts := cols(4, NumExperts)
	// The mixture logits: learned, minus beta times the experts'
	// cross-validated log costs, beta = cvGateScale (1 + a learned b).
	beta := AddScalar(b.param(ctx.In("head_cv"), h.Graph(), "beta", 0, 1), 1)
	beta = BroadcastToDims(Reshape(MulScalar(beta, cvGateScale), 1, 1, 1), bsz, k, NumExperts)
	// The learned logits are bounded (2 tanh(x/2)), so that they can
	// reweight experts whose held-out costs are close but cannot
	// override clear held-out evidence; likewise the corrections.
	bounded := func(x *Node, limit float64) *Node { return MulScalar(Tanh(MulScalar(x, 1/limit)), limit) }
	learned := bounded(b.dense(ctx.In("head_2"), out, NumExperts, true), 2)
	strength := func(x *Node) *Node {
		if b.damp == 0 {
			return x
		}
		return MulScalar(x, 1-b.damp)
	}
	learned = strength(learned)
	logits := Sub(learned, Mul(beta, cols(4+NumExperts, NumExperts)))
	gate := Softmax(logits, -1)
	mix := ReduceSum(Mul(gate, experts), -1)
	one := func(name string) *Node { return Reshape(b.dense(ctx.In(name), out, 1, true), bsz, k) }
	q := Add(Mul(mix, Exp(strength(bounded(one("head_scale"), 0.3)))), Mul(col(0), strength(bounded(one("head_shift"), 0.5))))
	// c = certain + possible * sigmoid(logit), the sigmoid written with tanh.
	c := Add(col(3), Mul(col(2), MulScalar(AddScalar(Tanh(MulScalar(one("head_const"), 0.5)), 1), 0.5)))
	return Add(q, Mul(c, Sub(col(4), q)))
}

// summaryPartial is the inducing-point summary attention of one block over
// a chunk of instances h [1,C,W] (inst masks padding), reduced over the
// chunk for an online softmax: the logits' maximum mx [1,H,M], the sum
// of exp(logit - mx) s [1,H,M], and the exp-weighted values acc
// [1,H,M,d]. Chunks combine exactly (streamed Decide); summaryFinish
// then gives what block computes over all instances at once.
func (b *builder) summaryPartial(blk *context.Context, h, inst *Node) (mx, s, acc *Node) {
	a := layerNorm(blk.In("norm_attn"), h)
	q := b.inducingPoints(blk, h)
	logits, vh := b.attentionLogits(blk.In("attn_summarise"), q, a, inst)
	dims := logits.Shape().Dimensions
	bsz, hh, nq, ns := dims[0], dims[1], dims[2], dims[3]
	mx = ReduceMax(logits, -1)
	e := Exp(Sub(logits, BroadcastToDims(InsertAxes(mx, -1), bsz, hh, nq, ns)))
	s = ReduceSum(e, -1)
	acc = DotGeneral(e, []int{3}, []int{0, 1}, vh, []int{1}, []int{0, 2})
	return mx, s, acc
}

// blockWithSummary is block for an inducing-point model given the
// softmax-weighted values ctxv [1,H,M,d] of its summary attention over
// the whole portfolio (from summaryPartial's combined chunks).
func (b *builder) blockWithSummary(blk *context.Context, h, ctxv *Node) *Node {
	a := layerNorm(blk.In("norm_attn"), h)
	bsz, nq, w := ctxv.Shape().Dimensions[0], ctxv.Shape().Dimensions[2], b.cfg.Width
	summary := Reshape(TransposeAllAxes(ctxv, 0, 2, 1, 3), bsz, nq, w)
	summary = b.dense(blk.In("attn_summarise").In("output"), summary, w, false)
	h = Add(h, b.attention(blk.In("attn_broadcast"), a, summary, nil))
	return b.mlp(blk, h)
}

// InputTensors converts the batch to tensors, in InputsOf order.
func (bt *Batch) InputTensors() []any {
	f := func(x []float32, dims ...int) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(x, dims...) }
	return []any{
		f(bt.Obs, bt.B, bt.K, bt.N, 2), f(bt.ObsMask, bt.B, bt.K, bt.N), f(bt.Inst, bt.B, bt.K),
		f(bt.Feats, bt.B, bt.K, bt.F), f(bt.Head, bt.B, bt.K, bt.H),
	}
}

// InputsOf names the five batch inputs in InputTensors order.
func InputsOf(x []*Node) Inputs {
	return Inputs{Obs: x[0], ObsMask: x[1], Inst: x[2], Feats: x[3], Head: x[4]}
}
