package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
)

// shardArgs lays out portfolios ps[lo:hi] with per-decision weights g.
func shardArgs(ps []*data.Portfolio, g []float32, lo, hi, k int) []any {
	bt := model.NewBatch(ps[lo:hi], k, 0)
	return append(bt.InputTensors(), tensors.FromFlatDataAndDimensions(slices.Clone(g[lo*k:hi*k]), hi-lo, k))
}

// The gradient of a sum over portfolios, computed on shards of the batch
// and summed, equals the whole batch's (up to float32 rounding), whatever
// the split.
func TestShardedGradientsAddUp(t *testing.T) {
	m := smallModel(t)
	rng := rand.New(rand.NewPCG(5, 6))
	ps := make([]*data.Portfolio, 5)
	for i := range ps {
		ps[i] = realLike(uint64(i+1), 7+i, 4)
	}
	k := 16
	g := make([]float32, len(ps)*k)
	for i := range g {
		g[i] = float32(rng.NormFloat64())
	}
	pass, err := newGradientPass(m, func(q *Node, x []*Node) *Node { return ReduceAllSum(Mul(q, x[0])) })
	if err != nil {
		t.Fatal(err)
	}
	lossAll, all, err := pass.run([][]any{shardArgs(ps, g, 0, 5, k)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(pass.vars) || len(all) == 0 {
		t.Fatalf("%d gradients for %d variables", len(all), len(pass.vars))
	}
	for _, split := range [][]int{{0, 2, 5}, {0, 1, 3, 4, 5}} {
		var shards [][]any
		for i := range split[1:] {
			shards = append(shards, shardArgs(ps, g, split[i], split[i+1], k))
		}
		loss, sharded, err := pass.run(shards)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(loss-lossAll) > 1e-5*(1+math.Abs(lossAll)) {
			t.Errorf("split %v: loss %v, whole batch %v", split, loss, lossAll)
		}
		for i, v := range pass.vars {
			a, b := tensors.MustCopyFlatData[float32](all[i]), tensors.MustCopyFlatData[float32](sharded[i])
			scale := 0.0
			for _, x := range a {
				scale = max(scale, math.Abs(float64(x)))
			}
			for j := range a {
				if d := math.Abs(float64(a[j] - b[j])); d > 1e-5*scale+1e-7 {
					t.Fatalf("split %v: %s[%d]: %v sharded, %v whole", split, v.ScopeAndName(), j, b[j], a[j])
				}
			}
		}
	}
}

// The update applies exactly the gradients it is given: with plain
// gradient descent at rate 1, each variable moves by minus its gradient,
// and the reported loss is the label.
func TestUpdaterAppliesTheGivenGradients(t *testing.T) {
	m := smallModel(t)
	var vars []*context.Variable
	for v := range m.Context().IterVariables() {
		if v.Trainable && v.Shape().DType.String() == "Float32" {
			vars = append(vars, v)
		}
	}
	upd, err := newUpdater(m, func() []*context.Variable { return vars },
		optimizers.StochasticGradientDescent().WithLearningRate(1).WithDecay(false).Done())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	before := make([][]float32, len(vars))
	grads := make([]*tensors.Tensor, len(vars))
	want := make([][]float32, len(vars))
	for i, v := range vars {
		before[i] = tensors.MustCopyFlatData[float32](v.MustValue())
		g := make([]float32, len(before[i]))
		want[i] = make([]float32, len(g))
		for j := range g {
			g[j] = float32(rng.NormFloat64())
			want[i][j] = before[i][j] - g[j]
		}
		grads[i] = tensors.FromFlatDataAndDimensions(g, v.Shape().Dimensions...)
	}
	metrics, err := upd.TrainStep(nil, grads, []*tensors.Tensor{tensors.FromScalar(1.25)})
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.ToScalar[float32](metrics[0]); got != 1.25 {
		t.Errorf("reported loss %v, want the label 1.25", got)
	}
	for i, v := range vars {
		if got := tensors.MustCopyFlatData[float32](v.MustValue()); !slices.Equal(got, want[i]) {
			t.Fatalf("%s moved to %v, want %v", v.ScopeAndName(), got[:min(4, len(got))], want[i][:min(4, len(got))])
		}
	}
}
