package backend

import (
	"reflect"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's idiom for graph code
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// GoMLX v0.26.0 builds the gradients of Dot and DotGeneral as a broadcast
// multiply followed by a reduce-sum, which the pure-Go backend executes
// literally: measured on a small set-Transformer step, 92% of the time went
// to broadcast iteration and reduction. These VJPs express each gradient as
// one DotGeneral and one transpose per operand, which every backend runs as
// a matmul (about 5x faster steps). Delete this file when moving to GoMLX
// >= v0.28, which builds these gradients as matmuls itself.

var (
	installOnce sync.Once
	// stock holds GoMLX's own VJPs, for tests to compare against.
	stock = map[NodeType]VJP{}
	ours  = map[NodeType]VJP{
		NodeTypeDotGeneral: func(node *Node, v []*Node, _ shapes.Shape) []*Node { return dotGeneralVJP(node, v[0]) },
		NodeTypeDot:        func(node *Node, v []*Node, _ shapes.Shape) []*Node { return dotVJP(node, v[0]) },
	}
)

// InstallGradients registers ptft's Dot and DotGeneral gradients in
// graph.VJPRegistration; New calls it, and calling it again does nothing.
func InstallGradients() {
	installOnce.Do(func() {
		stock[NodeTypeDotGeneral] = VJPRegistration[NodeTypeDotGeneral]
		stock[NodeTypeDot] = VJPRegistration[NodeTypeDot]
		VJPRegistration[NodeTypeDotGeneral] = ours[NodeTypeDotGeneral]
		VJPRegistration[NodeTypeDot] = ours[NodeTypeDot]
	})
}

// UseStockGradients switches between GoMLX's own Dot/DotGeneral gradients
// (true) and ptft's (false, the default once New has run), for benchmarks
// that measure the difference. Graphs already built keep their gradients.
func UseStockGradients(useStock bool) {
	InstallGradients()
	if useStock {
		VJPRegistration[NodeTypeDotGeneral] = stock[NodeTypeDotGeneral]
		VJPRegistration[NodeTypeDot] = stock[NodeTypeDot]
		return
	}
	VJPRegistration[NodeTypeDotGeneral] = ours[NodeTypeDotGeneral]
	VJPRegistration[NodeTypeDot] = ours[NodeTypeDot]
}

// dotGeneralAxes reads a DotGeneral node's axes. GoMLX v0.26.0 keeps them in
// an unexported struct with no accessor, so they are read by reflection
// (reading unexported fields is allowed; nothing is written).
func dotGeneralAxes(node *Node) (lc, lb, rc, rb []int) {
	in := reflect.ValueOf(node).Elem().FieldByName("inputs").Elem().Elem()
	ints := func(name string) []int {
		f := in.FieldByName(name)
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out
	}
	return ints("lhsContractingAxes"), ints("lhsBatchAxes"), ints("rhsContractingAxes"), ints("rhsBatchAxes")
}

// freeAxes lists the axes that are neither contracting nor batch, in order:
// the order DotGeneral lays them out in its output.
func freeAxes(rank int, contracting, batch []int) []int {
	var free []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			free = append(free, a)
		}
	}
	return free
}

// operandGrad computes the gradient of one operand ("this") of
// out = DotGeneral(...), whose output axes are [batch, lhsFree, rhsFree]:
//
//	grad = DotGeneral(v, contract v's axes of other's free axes, batch;
//	                  other, contract other's free axes, batch)
//
// has axes [batch, thisFree, other's contracting axes in increasing order];
// this's contracting axis thisC[i] pairs with otherC[i], so one transpose
// puts every axis back in place.
func operandGrad(v, other *Node, thisRank int, thisC, thisB, otherC, otherB []int, thisIsLHS bool) *Node {
	nb := len(thisB)
	thisFree := freeAxes(thisRank, thisC, thisB)
	otherFree := freeAxes(other.Rank(), otherC, otherB)
	vBatch := make([]int, nb)
	for i := range vBatch {
		vBatch[i] = i
	}
	vOther := make([]int, len(otherFree)) // positions of other's free axes in v
	for i := range vOther {
		if thisIsLHS {
			vOther[i] = nb + len(thisFree) + i
		} else {
			vOther[i] = nb + i
		}
	}
	g := DotGeneral(v, vOther, vBatch, other, otherFree, otherB)
	// g axes: [batch, thisFree, sorted(otherC)].
	sortedOtherC := slices.Sorted(slices.Values(otherC))
	perm := make([]int, thisRank)
	for i, a := range thisB {
		perm[a] = i
	}
	for i, a := range thisFree {
		perm[a] = nb + i
	}
	for i, a := range thisC {
		perm[a] = nb + len(thisFree) + slices.Index(sortedOtherC, otherC[i])
	}
	identity := true
	for i, p := range perm {
		identity = identity && i == p
	}
	if identity {
		return g
	}
	return TransposeAllAxes(g, perm...)
}

func dotGeneralVJP(node, v *Node) []*Node {
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lc, lb, rc, rb := dotGeneralAxes(node)
	return []*Node{
		operandGrad(v, rhs, lhs.Rank(), lc, lb, rc, rb, true),
		operandGrad(v, lhs, rhs.Rank(), rc, rb, lc, lb, false),
	}
}

func dotVJP(node, v *Node) []*Node {
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	switch {
	case lhs.Rank() == 1 && rhs.Rank() == 1: // scalar output
		return []*Node{Mul(v, rhs), Mul(v, lhs)}
	case lhs.Rank() == 2 && rhs.Rank() == 1: // [i,j]·[j] -> [i]
		return []*Node{
			Mul(InsertAxes(v, -1), InsertAxes(rhs, 0)), // outer product, no reduction
			DotGeneral(lhs, []int{0}, nil, v, []int{0}, nil),
		}
	default: // [i,j]·[j,k] -> [i,k]
		return []*Node{
			DotGeneral(v, []int{1}, nil, rhs, []int{1}, nil),
			DotGeneral(lhs, []int{0}, nil, v, []int{0}, nil),
		}
	}
}
