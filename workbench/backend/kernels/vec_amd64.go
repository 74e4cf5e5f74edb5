package kernels

//go:generate python3 gen_vec.py

// Vector loops over n floats, n a multiple of 8 (vec_amd64.s). out may be
// the same slice as an input.
//
//go:noescape
func expAVX(out, in *float32, n int)

//go:noescape
func erfAVX(out, in *float32, n int)

//go:noescape
func addVV(out, l, r *float32, n int)

//go:noescape
func subVV(out, l, r *float32, n int)

//go:noescape
func mulVV(out, l, r *float32, n int)

//go:noescape
func divVV(out, l, r *float32, n int)

//go:noescape
func addVS(out, l, r *float32, n int)

//go:noescape
func subVS(out, l, r *float32, n int)

//go:noescape
func mulVS(out, l, r *float32, n int)

//go:noescape
func divVS(out, l, r *float32, n int)

//go:noescape
func addSV(out, l, r *float32, n int)

//go:noescape
func subSV(out, l, r *float32, n int)

//go:noescape
func mulSV(out, l, r *float32, n int)

//go:noescape
func divSV(out, l, r *float32, n int)

var vecBinary = [3][4]func(out, l, r *float32, n int){
	{addVV, subVV, mulVV, divVV},
	{addVS, subVS, mulVS, divVS},
	{addSV, subSV, mulSV, divSV},
}

// binaryVec runs the vector loop of op in mode (0: both vectors, 1: r a
// scalar, 2: l a scalar) over the first n &^ 7 values and returns how
// many it did.
func binaryVec(op binaryOp, mode int, out, l, r []float32) int {
	n := len(out) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	vecBinary[mode][op](&out[0], &l[0], &r[0], n)
	return n
}

// unaryVec runs expAVX or erfAVX over in into out (same length), the
// tail through an 8-value scratch block so that every value goes through
// the same instructions.
func unaryVec(f func(out, in *float32, n int), out, in []float32) {
	n := len(in) &^ 7
	if n > 0 {
		f(&out[0], &in[0], n)
	}
	if rest := len(in) - n; rest > 0 {
		var blk [8]float32
		copy(blk[:], in[n:])
		f(&blk[0], &blk[0], 8)
		copy(out[n:], blk[:rest])
	}
}

func expVec(out, in []float32) { unaryVec(expAVX, out, in) }
func erfVec(out, in []float32) { unaryVec(erfAVX, out, in) }
