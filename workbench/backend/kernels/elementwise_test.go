package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// elementwiseCase is a graph over two inputs whose ops ptft replaces.
type elementwiseCase struct {
	name       string
	xDims      []int
	yDims      []int
	f          func(x, y *Node) *Node
	float64Too bool
}

var elementwiseCases = []elementwiseCase{
	{"add-same", []int{5, 7, 64}, []int{5, 7, 64}, Add, true},
	{"sub-bcast-last", []int{5, 7, 64}, []int{5, 7, 1}, Sub, true},
	{"mul-bcast-lead", []int{5, 7, 64}, []int{1, 1, 64}, Mul, true},
	{"div-bcast-middle", []int{5, 7, 3}, []int{5, 1, 3}, Div, true},
	{"div-lhs-bcast", []int{1, 7, 1}, []int{5, 7, 3}, Div, false},
	{"both-bcast", []int{5, 1, 3}, []int{1, 7, 1}, Add, false},
	{"scalar-rhs", []int{4, 9}, []int{}, Mul, false},
	{"scalar-lhs", []int{}, []int{4, 9}, Sub, false},
	{"size-one", []int{1, 1}, []int{1, 1}, Div, false},
	{"chain-reuses-buffers", []int{6, 33}, []int{6, 33}, func(x, y *Node) *Node {
		return Div(Sub(Mul(Add(x, y), x), y), AddScalar(Abs(y), 1))
	}, true},
	{"reduce-sum-last", []int{5, 7, 64}, []int{1}, func(x, _ *Node) *Node { return ReduceSum(x, -1) }, true},
	{"reduce-sum-middle", []int{5, 7, 64}, []int{1}, func(x, _ *Node) *Node { return ReduceSum(x, 1) }, true},
	{"reduce-sum-lead-and-last", []int{5, 7, 3, 4}, []int{1}, func(x, _ *Node) *Node { return ReduceSum(x, 0, 3) }, false},
	{"reduce-sum-all", []int{5, 7, 3}, []int{1}, func(x, _ *Node) *Node { return ReduceAllSum(x) }, false},
	{"reduce-max-last", []int{5, 7, 64}, []int{1}, func(x, _ *Node) *Node { return ReduceMax(x, -1) }, true},
	{"reduce-max-lead", []int{5, 7, 6}, []int{1}, func(x, _ *Node) *Node { return ReduceMax(x, 0) }, false},
	{"reduce-max-size-one-axis", []int{5, 1, 6}, []int{1}, func(x, _ *Node) *Node { return ReduceMax(x, 1) }, false},
	{"broadcast-new-axes", []int{5, 3}, []int{1}, func(x, _ *Node) *Node { return BroadcastToDims(InsertAxes(x, 1, -1), 5, 7, 3, 4) }, true},
	{"broadcast-scalar", []int{}, []int{1}, func(x, _ *Node) *Node { return BroadcastToDims(x, 4, 5) }, false},
	{"broadcast-size-one", []int{5, 1, 3}, []int{1}, func(x, _ *Node) *Node { return BroadcastToDims(x, 5, 8, 3) }, false},
}

// TestElementwiseMatchesStock: every replaced op gives bit-identical
// float32 results to the stock executor, and leaves float64 to it.
func TestElementwiseMatchesStock(t *testing.T) {
	mustInstall(t)
	bk, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Finalize()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range elementwiseCases {
		for _, f64 := range []bool{false, true} {
			if f64 && !c.float64Too {
				continue
			}
			var x, y *tensors.Tensor
			if f64 {
				x, y = randomTensor[float64](rng, c.xDims), randomTensor[float64](rng, c.yDims)
			} else {
				x, y = randomTensor[float32](rng, c.xDims), randomTensor[float32](rng, c.yDims)
			}
			e := MustNewExec(bk, c.f)
			prev := SetActive(false)
			want := fmt.Sprint(e.MustExec(x, y)[0].Value())
			SetActive(true)
			for _, asm := range []bool{useAsm, false} {
				saved := useAsm
				useAsm = asm
				before := handled.Load()
				got := fmt.Sprint(e.MustExec(x, y)[0].Value())
				useAsm = saved
				if ran := handled.Load() != before; ran == f64 {
					t.Errorf("%s (float64=%v, asm=%v): ptft's kernels ran: %v", c.name, f64, asm, ran)
				}
				if got != want {
					t.Errorf("%s (float64=%v, asm=%v): got %.200s\nstock %.200s", c.name, f64, asm, got, want)
				}
			}
			SetActive(prev)
		}
	}
}

// TestReduceMaxKeepsNaNAndLowest: NaN propagates and an all -Inf row
// stays at the lowest value, as in the stock executor.
func TestReduceMaxKeepsNaNAndLowest(t *testing.T) {
	mustInstall(t)
	bk, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Finalize()
	inf := float32(math.Inf(-1))
	x := tensors.FromValue([][]float32{{1, float32(math.NaN()), 3}, {inf, inf, inf}, {-2, -1, -3}})
	e := MustNewExec(bk, func(x *Node) *Node { return ReduceMax(x, 1) })
	prev := SetActive(false)
	want := fmt.Sprint(e.MustExec(x)[0].Value())
	SetActive(true)
	got := fmt.Sprint(e.MustExec(x)[0].Value())
	SetActive(prev)
	if got != want {
		t.Errorf("ReduceMax = %s, stock %s", got, want)
	}
}

// TestExpErfMatchStock: the vector Exp and Erf against the stock float64
// functions, over a sweep, the edges (NaN, infinities, overflow,
// underflow to denormals, signed zeros) and lengths that are not
// multiples of 8, directly on inputs and in place on an intermediate.
func TestExpErfMatchStock(t *testing.T) {
	mustInstall(t)
	if !useAsm {
		t.Skip("Exp and Erf use the stock executors without AVX2+FMA")
	}
	bk, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Finalize()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	edges := []float32{nan, inf, -inf, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-38, 1e-45,
		-87, -87.5, -100, -103.9, -104, 88, 88.5, 88.72, 88.73, 200, 3.9, 4, 4.1, -3.9, -4.5, 0.5, -0.5}
	var sweep []float32
	for x := -110.0; x <= 110; x += 0.0137 {
		sweep = append(sweep, float32(x))
	}
	for _, vals := range [][]float32{edges, sweep, sweep[:13], sweep[:8], sweep[:1]} {
		x := tensors.FromFlatDataAndDimensions(vals, len(vals))
		zero := tensors.FromFlatDataAndDimensions(make([]float32, len(vals)), len(vals))
		for name, f := range map[string]func(x, z *Node) *Node{
			"exp":          func(x, _ *Node) *Node { return Exp(x) },
			"erf":          func(x, _ *Node) *Node { return Erf(x) },
			"exp-in-place": func(x, z *Node) *Node { return Exp(Add(x, z)) },
			"erf-in-place": func(x, z *Node) *Node { return Erf(Add(x, z)) },
		} {
			e := MustNewExec(bk, f)
			prev := SetActive(false)
			want := e.MustExec(x, zero)[0].Value().([]float32)
			SetActive(true)
			got := e.MustExec(x, zero)[0].Value().([]float32)
			SetActive(prev)
			for i := range want {
				w, g := float64(want[i]), float64(got[i])
				if math.IsNaN(w) != math.IsNaN(g) || (!math.IsNaN(w) && math.Abs(g-w) > 1e-6*math.Abs(w)) {
					t.Fatalf("%s(%v) = %v, stock %v", name, vals[i], g, w)
				}
			}
		}
	}
}
