package train

import (
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The held-out newsvendor cost, in the graph and in the data's units.

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

// cost returns the mean held-out cost in the data's units.
// The splits are scored one per execution, shards of them concurrently.
func (f *finetuner) cost(ss []split, validation bool) (float64, error) {
	costs := make([]float64, len(ss))
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for _, r := range shardBounds(len(ss), concurrency(f.m)) {
		wg.Go(func() {
			for i := r[0]; i < r[1]; i++ {
				args, unit, _ := f.tensors(ss[i:i+1], validation, true)
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
