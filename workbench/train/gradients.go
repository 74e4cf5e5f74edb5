package train

import (
	"fmt"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/model"
)

// Training steps run in two executions: a gradient pass, which computes the
// loss and its gradient with respect to every trainable variable, one shard
// of the batch per goroutine (backend.Concurrency), and an update, a GoMLX
// train.Trainer step whose loss is linear in the variables with the summed
// gradients as slopes, so that the trainer's optimizer applies exactly
// those gradients. The loss must be a sum over the batch's portfolios, so
// that the shards' gradients add up to the batch's. On the pure-Go backend
// the shards keep both cores busy; with one shard (XLA) the step computes
// what a single execution of the whole step did, bit for bit.

// gradientPass computes a loss over a batch and its gradient with respect
// to the model's trainable variables.
type gradientPass struct {
	vars []*context.Variable
	exec *context.Exec
}

// newGradientPass prepares the pass for loss(q, extra), q the model's
// decisions [B,K] and extra the inputs after the seven batch inputs. Its
// variables are the trainable ones the model's graph uses (as for GoMLX's
// optimizers), known once the pass has run.
func newGradientPass(m *model.Model, loss func(q *Node, extra []*Node) *Node) (*gradientPass, error) {
	p := &gradientPass{}
	var err error
	p.exec, err = context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, x []*Node) []*Node {
		in, extra := model.SplitInputs(x)
		q := m.Graph(ctx, in)
		l := loss(q, extra)
		var vars []*context.Variable
		var wrt []*Node
		for v := range ctx.IterVariables() {
			if v.Trainable && v.InUseByGraph(q.Graph()) {
				vars = append(vars, v)
				wrt = append(wrt, v.ValueGraph(q.Graph()))
			}
		}
		if p.vars == nil {
			p.vars = vars
		} else if !slices.Equal(p.vars, vars) {
			panic("train: the model uses other trainable variables for another input shape")
		}
		if len(vars) == 0 {
			panic("train: the model has no trainable variable")
		}
		return append([]*Node{l}, Gradient(l, wrt...)...)
	})
	if err != nil {
		return nil, err
	}
	p.exec.SetMaxCache(64)
	return p, nil
}

// run executes the shards (each the arguments of one execution)
// concurrently and returns the sum of their losses and of their gradients,
// one tensor per variable, summed in shard order.
func (p *gradientPass) run(shards [][]any) (float64, []*tensors.Tensor, error) {
	outs := make([][]*tensors.Tensor, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for s, args := range shards {
		wg.Go(func() { outs[s], errs[s] = p.exec.Exec(args...) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, nil, err
		}
	}
	if len(outs) == 1 {
		// Nothing to sum: the gradients stay where they are (on an
		// accelerator, on the device) for the update.
		return float64(tensors.ToScalar[float32](outs[0][0])), outs[0][1:], nil
	}
	loss := 0.0
	sums := make([][]float32, len(p.vars))
	for _, out := range outs {
		loss += float64(tensors.ToScalar[float32](out[0]))
		for i, g := range out[1:] {
			tensors.MustConstFlatData(g, func(flat []float32) {
				if sums[i] == nil {
					sums[i] = make([]float32, len(flat))
				}
				for j, x := range flat {
					sums[i][j] += x
				}
			})
		}
	}
	grads := make([]*tensors.Tensor, len(p.vars))
	for i, v := range p.vars {
		grads[i] = tensors.FromFlatDataAndDimensions(sums[i], v.Shape().Dimensions...)
	}
	return loss, grads, nil
}

// shardBounds splits n items into at most parts contiguous shards.
func shardBounds(n, parts int) [][2]int {
	parts = max(1, min(n, parts))
	out := make([][2]int, parts)
	for s := range out {
		out[s] = [2]int{s * n / parts, (s + 1) * n / parts}
	}
	return out
}

// concurrency is the number of shards a batch is split into on m's backend.
func concurrency(m *model.Model) int { return backend.Concurrency(m.Backend()) }

// newUpdater returns the GoMLX trainer of m that applies gradients: its
// inputs are the gradients of vars() (a gradient pass's variables, asked
// for when the update is first built), its one label the loss to report.
func newUpdater(m *model.Model, vars func() []*context.Variable, opt optimizers.Interface) (t *gomlxtrain.Trainer, err error) {
	modelFn := func(ctx *context.Context, _ any, grads []*Node) []*Node {
		g := grads[0].Graph()
		var linear *Node
		for i, v := range vars() {
			term := ReduceAllSum(Mul(v.ValueGraph(g), StopGradient(grads[i])))
			if linear == nil {
				linear = term
			} else {
				linear = Add(linear, term)
			}
		}
		return []*Node{linear}
	}
	// The loss takes the reported value; its gradient is the linear part's.
	lossFn := func(labels, predictions []*Node) *Node {
		s := predictions[0]
		return Add(s, StopGradient(Sub(ConvertDType(labels[0], s.DType()), s)))
	}
	defer func() {
		if r := recover(); r != nil { // GoMLX's constructors panic
			t, err = nil, fmt.Errorf("train: %v", r)
		}
	}()
	return gomlxtrain.NewTrainer(m.Backend(), m.Context(), modelFn, lossFn, opt, nil, nil), nil
}
