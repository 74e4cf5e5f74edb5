package kernels

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// The element-wise executors below replace simplego's per-element
// broadcast iterator (an index update per element) by loops over runs of
// the innermost collapsed axis. They compute the same float32 operations
// in the same order as the stock executors, so their results are
// bit-identical; other dtypes go to the stock executors.

// strided is an index space (dims, row-major, the output of a broadcast or
// binary op, or the operand of a reduction) with up to two other tensors
// addressed at strides over it (0 on broadcast or reduced axes).
type strided struct {
	dims []int
	s    [2][]int
}

// collapse drops size-1 axes and merges neighbouring axes that every
// strided tensor walks contiguously, so that inner runs are long.
func collapse(dims []int, s0, s1 []int) strided {
	var out strided
	for a, d := range dims {
		if d == 1 {
			continue
		}
		if n := len(out.dims); n > 0 {
			last := n - 1
			if out.s[0][last] == s0[a]*d && out.s[1][last] == s1[a]*d {
				out.dims[last] *= d
				out.s[0][last], out.s[1][last] = s0[a], s1[a]
				continue
			}
		}
		out.dims = append(out.dims, d)
		out.s[0] = append(out.s[0], s0[a])
		out.s[1] = append(out.s[1], s1[a])
	}
	if len(out.dims) == 0 {
		out.dims, out.s[0], out.s[1] = []int{1}, []int{0}, []int{0}
	}
	return out
}

// runs calls f for each run of the innermost axis, in row-major order:
// the run starts at flat position pos of the index space and at offsets
// o0, o1 of the two strided tensors.
func (st strided) runs(f func(pos, o0, o1 int)) {
	rank := len(st.dims)
	inner := st.dims[rank-1]
	idx := make([]int, rank)
	pos, o0, o1 := 0, 0, 0
	for {
		f(pos, o0, o1)
		pos += inner
		a := rank - 2
		for ; a >= 0; a-- {
			idx[a]++
			o0 += st.s[0][a]
			o1 += st.s[1][a]
			if idx[a] < st.dims[a] {
				break
			}
			o0 -= st.s[0][a] * st.dims[a]
			o1 -= st.s[1][a] * st.dims[a]
			idx[a] = 0
		}
		if a < 0 {
			return
		}
	}
}

// broadcastStrides returns the row-major strides of dims seen over
// target (same rank): 0 where dims is 1 and target is not.
func broadcastStrides(dims, target []int) []int {
	s := make([]int, len(dims))
	stride := 1
	for a := len(dims) - 1; a >= 0; a-- {
		if dims[a] == target[a] {
			s[a] = stride
		}
		stride *= dims[a]
	}
	return s
}

// operandStrides returns a binary op's operand strides over the output's
// dims: all 0 for a scalar (or size-1) operand, broadcast strides for one of
// the output's rank; false for anything else (the stock executor's case).
func operandStrides(s shapes.Shape, dims []int) ([]int, bool) {
	switch {
	case s.Size() == 1:
		return make([]int, len(dims)), true
	case s.Rank() == len(dims):
		return broadcastStrides(s.Dimensions, dims), true
	}
	return nil, false
}

type binaryOp int

const (
	opAdd binaryOp = iota
	opSub
	opMul
	opDiv
)

var binaryOpTypes = map[backends.OpType]binaryOp{
	backends.OpTypeAdd: opAdd, backends.OpTypeSub: opSub, backends.OpTypeMul: opMul, backends.OpTypeDiv: opDiv,
}

// binaryRun computes out[i] = l[il + i*sl] op r[ir + i*sr] for i < n.
func binaryRun(op binaryOp, out, l, r []float32, il, sl, ir, sr int) {
	n := len(out)
	switch {
	case sl == 1 && sr == 1:
		l, r := l[il:il+n], r[ir:ir+n]
		done := binaryVec(op, 0, out, l, r)
		out, l, r = out[done:], l[done:], r[done:]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = l[i] + r[i]
			}
		case opSub:
			for i := range out {
				out[i] = l[i] - r[i]
			}
		case opMul:
			for i := range out {
				out[i] = l[i] * r[i]
			}
		case opDiv:
			for i := range out {
				out[i] = l[i] / r[i]
			}
		}
	case sl == 1 && sr == 0:
		l, c := l[il:il+n], r[ir]
		done := binaryVec(op, 1, out, l, r[ir:ir+1])
		out, l = out[done:], l[done:]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = l[i] + c
			}
		case opSub:
			for i := range out {
				out[i] = l[i] - c
			}
		case opMul:
			for i := range out {
				out[i] = l[i] * c
			}
		case opDiv:
			for i := range out {
				out[i] = l[i] / c
			}
		}
	case sl == 0 && sr == 1:
		c, r := l[il], r[ir:ir+n]
		done := binaryVec(op, 2, out, l[il:il+1], r)
		out, r = out[done:], r[done:]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = c + r[i]
			}
		case opSub:
			for i := range out {
				out[i] = c - r[i]
			}
		case opMul:
			for i := range out {
				out[i] = c * r[i]
			}
		case opDiv:
			for i := range out {
				out[i] = c / r[i]
			}
		}
	default:
		for i := range out {
			a, b := l[il+i*sl], r[ir+i*sr]
			switch op {
			case opAdd:
				out[i] = a + b
			case opSub:
				out[i] = a - b
			case opMul:
				out[i] = a * b
			case opDiv:
				out[i] = a / b
			}
		}
	}
}

// binaryExecutor returns the executor for one arithmetic op type.
func binaryExecutor(opType backends.OpType, stock executor) executor {
	op := binaryOpTypes[opType]
	return func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		if !active.Load() || len(inputs) != 2 {
			return stock(b, node, inputs, owned)
		}
		outShape := nodeShape(node)
		ls, rs := bufShape(inputs[0]), bufShape(inputs[1])
		if outShape.DType != dtypes.Float32 || ls.DType != dtypes.Float32 || rs.DType != dtypes.Float32 {
			return stock(b, node, inputs, owned)
		}
		lf, ok1 := bufFlat(inputs[0]).([]float32)
		rf, ok2 := bufFlat(inputs[1]).([]float32)
		if !ok1 || !ok2 || len(lf) < ls.Size() || len(rf) < rs.Size() {
			return stock(b, node, inputs, owned)
		}
		lf, rf = lf[:ls.Size()], rf[:rs.Size()]
		dims := outShape.Dimensions
		sl, okl := operandStrides(ls, dims)
		sr, okr := operandStrides(rs, dims)
		if !okl || !okr {
			return stock(b, node, inputs, owned)
		}
		// Reuse an owned input of the output's shape, as the stock
		// executors do (a nil input tells the caller it was taken).
		var out *simplego.Buffer
		switch {
		case owned[1] && rs.Equal(outShape):
			out, inputs[1] = inputs[1], nil
		case owned[0] && ls.Equal(outShape):
			out, inputs[0] = inputs[0], nil
		default:
			out = getBufferForShape(b, outShape)
		}
		of := bufFlat(out).([]float32)[:outShape.Size()]
		st := collapse(dims, sl, sr)
		inner := st.dims[len(st.dims)-1]
		il, ir := st.s[0][len(st.dims)-1], st.s[1][len(st.dims)-1]
		st.runs(func(pos, o0, o1 int) {
			binaryRun(op, of[pos:pos+inner], lf, rf, o0, il, o1, ir)
		})
		handled.Add(1)
		return out, nil
	}
}

// axesOp reads a one-input float32 node whose data are axes (broadcast,
// reductions): output and input shapes, the axes and the input's values;
// false when ptft's kernels are off or the node is not of that kind.
func axesOp(node *simplego.Node, inputs []*simplego.Buffer) (out, is shapes.Shape, axes []int, in []float32, ok bool) {
	if !active.Load() || len(inputs) != 1 {
		return out, is, nil, nil, false
	}
	out, is = nodeShape(node), bufShape(inputs[0])
	axes, ok1 := nodeData(node).([]int)
	in, ok2 := bufFlat(inputs[0]).([]float32)
	if !ok1 || !ok2 || out.DType != dtypes.Float32 || is.DType != dtypes.Float32 || len(in) < is.Size() {
		return out, is, nil, nil, false
	}
	return out, is, axes, in[:is.Size()], true
}

// execBroadcastInDim broadcasts a float32 operand into the node's shape.
func execBroadcastInDim(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	stock := stockExecutors[backends.OpTypeBroadcastInDim]
	outShape, is, axes, in, ok := axesOp(node, inputs)
	if !ok || len(axes) != is.Rank() {
		return stock(b, node, inputs, owned)
	}
	// The operand's dimensions placed on the output axes, 1 elsewhere.
	dims := outShape.Dimensions
	placed := make([]int, len(dims))
	for a := range placed {
		placed[a] = 1
	}
	for i, a := range axes {
		if a < 0 || a >= len(dims) || (is.Dimensions[i] != dims[a] && is.Dimensions[i] != 1) {
			return stock(b, node, inputs, owned)
		}
		placed[a] = is.Dimensions[i]
	}
	out := getBufferForShape(b, outShape)
	of := bufFlat(out).([]float32)[:outShape.Size()]
	st := collapse(dims, broadcastStrides(placed, dims), make([]int, len(dims)))
	inner := st.dims[len(st.dims)-1]
	si := st.s[0][len(st.dims)-1]
	st.runs(func(pos, o0, _ int) {
		dst := of[pos : pos+inner]
		switch si {
		case 0:
			v := in[o0]
			for i := range dst {
				dst[i] = v
			}
		case 1:
			copy(dst, in[o0:o0+inner])
		default:
			for i := range dst {
				dst[i] = in[o0+i*si]
			}
		}
	})
	handled.Add(1)
	return out, nil
}

// reduceExecutor returns the float32 ReduceSum or ReduceMax executor. It
// walks the operand in flat order, as the stock one does, so every output
// element sees its values in the same order.
func reduceExecutor(opType backends.OpType, stock executor) executor {
	isMax := opType == backends.OpTypeReduceMax
	lowest := dtypes.Float32.LowestValue().(float32)
	return func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		outShape, is, axes, in, ok := axesOp(node, inputs)
		if !ok || len(axes) == 0 {
			return stock(b, node, inputs, owned)
		}
		dims := is.Dimensions
		reduced := make([]bool, len(dims))
		for _, a := range axes {
			if a < 0 || a >= len(dims) {
				return stock(b, node, inputs, owned)
			}
			reduced[a] = true
		}
		// Output strides over the operand's index space: 0 on reduced axes.
		so := make([]int, len(dims))
		stride, size := 1, 1
		for a := len(dims) - 1; a >= 0; a-- {
			if !reduced[a] {
				so[a] = stride
				stride *= dims[a]
				size *= dims[a]
			}
		}
		if size != outShape.Size() {
			return stock(b, node, inputs, owned)
		}
		out := getBufferForShape(b, outShape)
		of := bufFlat(out).([]float32)[:size]
		init := float32(0)
		if isMax {
			init = lowest
		}
		for i := range of {
			of[i] = init
		}
		st := collapse(dims, so, make([]int, len(dims)))
		inner := st.dims[len(st.dims)-1]
		sOut := st.s[0][len(st.dims)-1]
		st.runs(func(pos, o0, _ int) {
			src := in[pos : pos+inner]
			switch {
			case sOut == 0 && !isMax:
				acc := of[o0]
				for _, v := range src {
					acc += v
				}
				of[o0] = acc
			case sOut == 0:
				acc := of[o0]
				for _, v := range src {
					acc = max(acc, v)
				}
				of[o0] = acc
			case !isMax:
				dst := of[o0 : o0+(inner-1)*sOut+1]
				for i, v := range src {
					dst[i*sOut] += v
				}
			default:
				dst := of[o0 : o0+(inner-1)*sOut+1]
				for i, v := range src {
					dst[i*sOut] = max(dst[i*sOut], v)
				}
			}
		})
		handled.Add(1)
		return out, nil
	}
}

// unaryExecutor returns the float32 Exp or Erf executor (AVX2+FMA only;
// without it the stock executor runs). Exp agrees with float32(math.Exp)
// to about 2 ulps, Erf with float32(math.Erf) to 5e-7 relative; inputs
// outside exp's vector range (below -87, above 88, NaN) are computed by
// math.Exp.
func unaryExecutor(opType backends.OpType, stock executor) executor {
	isExp := opType == backends.OpTypeExp
	return func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		if !active.Load() || !useAsm || len(inputs) != 1 {
			return stock(b, node, inputs, owned)
		}
		is := bufShape(inputs[0])
		in, ok := bufFlat(inputs[0]).([]float32)
		if !ok || is.DType != dtypes.Float32 || len(in) < is.Size() {
			return stock(b, node, inputs, owned)
		}
		in = in[:is.Size()]
		var out *simplego.Buffer
		if owned[0] {
			out, inputs[0] = inputs[0], nil
		} else {
			out = getBufferForShape(b, nodeShape(node))
		}
		of := bufFlat(out).([]float32)[:len(in)]
		if !isExp {
			erfVec(of, in)
			handled.Add(1)
			return out, nil
		}
		// Out-of-range values, kept before an in-place pass overwrites them.
		var edge []int
		var edgeVal []float32
		for i, x := range in {
			if !(x >= -87 && x <= 88) {
				edge, edgeVal = append(edge, i), append(edgeVal, x)
			}
		}
		expVec(of, in)
		for j, i := range edge {
			of[i] = float32(math.Exp(float64(edgeVal[j])))
		}
		handled.Add(1)
		return out, nil
	}
}
