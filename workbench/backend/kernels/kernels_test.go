package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func mustInstall(t testing.TB) {
	t.Helper()
	if err := Install(); err != nil {
		t.Fatalf("Install: %v", err)
	}
}

// dotCase is one DotGeneral: operand dimensions and axes.
type dotCase struct {
	name               string
	lhsDims, rhsDims   []int
	lhsContr, lhsBatch []int
	rhsContr, rhsBatch []int
}

// dotCases covers the layouts the model and its gradients use, plus odd
// ones: batch axes not leading, contracting axes on either side, several
// contracting or batch axes, size-1 and non-multiple-of-tile dimensions.
var dotCases = []dotCase{
	{"matmul", []int{37, 19}, []int{19, 23}, []int{1}, nil, []int{0}, nil},
	{"dense-bkd,de", []int{3, 50, 64}, []int{64, 64}, []int{2}, nil, []int{0}, nil},
	{"weight-grad-bkd,bke", []int{3, 50, 17}, []int{3, 50, 33}, []int{0, 1}, nil, []int{0, 1}, nil},
	{"attention-bhqd,bhkd", []int{2, 4, 29, 16}, []int{2, 4, 31, 16}, []int{3}, []int{0, 1}, []int{3}, []int{0, 1}},
	{"attention-v-bhqk,bhkd", []int{2, 4, 29, 31}, []int{2, 4, 31, 16}, []int{3}, []int{0, 1}, []int{2}, []int{0, 1}},
	{"batch-not-leading", []int{7, 3, 11}, []int{11, 5, 3}, []int{2}, []int{1}, []int{0}, []int{2}},
	{"contracting-first", []int{13, 9}, []int{13, 21}, []int{0}, nil, []int{0}, nil},
	{"rhs-transposed", []int{9, 13}, []int{21, 13}, []int{1}, nil, []int{1}, nil},
	{"size-one", []int{1, 1}, []int{1, 1}, []int{1}, nil, []int{0}, nil},
	{"vector", []int{300}, []int{300}, []int{0}, nil, []int{0}, nil},
	{"matrix-vector", []int{45, 300}, []int{300}, []int{1}, nil, []int{0}, nil},
	{"deep-k", []int{17, 700}, []int{700, 18}, []int{1}, nil, []int{0}, nil},
	{"wide-n", []int{7, 20}, []int{20, 1100}, []int{1}, nil, []int{0}, nil},
	{"two-contracting-permuted", []int{4, 6, 5}, []int{5, 3, 4}, []int{0, 2}, nil, []int{2, 0}, nil},
	{"parallel-size", []int{400, 128}, []int{128, 96}, []int{1}, nil, []int{0}, nil},
	{"parallel-batch", []int{8, 130, 64}, []int{8, 64, 70}, []int{2}, []int{0}, []int{1}, []int{0}},
}

func randomTensor[T float32 | float64](rng *rand.Rand, dims []int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]T, n)
	for i := range v {
		v[i] = T(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func runDot(t *testing.T, bk backends.Backend, c dotCase, x, y *tensors.Tensor) *tensors.Tensor {
	t.Helper()
	e := MustNewExec(bk, func(a, b *Node) *Node {
		return DotGeneral(a, c.lhsContr, c.lhsBatch, b, c.rhsContr, c.rhsBatch)
	})
	return e.MustExec(x, y)[0]
}

// TestDotGeneralMatchesStock runs every case through the pure-Go backend
// with ptft's kernel (both micro-kernels) and with the stock executor.
func TestDotGeneralMatchesStock(t *testing.T) {
	mustInstall(t)
	bk, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Finalize()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range dotCases {
		x, y := randomTensor[float32](rng, c.lhsDims), randomTensor[float32](rng, c.rhsDims)
		prev := SetActive(false)
		want := runDot(t, bk, c, x, y).Value()
		SetActive(true)
		for _, asm := range []bool{true, false} {
			if asm && !useAsm {
				continue
			}
			saved := useAsm
			useAsm = asm
			before := handled.Load()
			got := runDot(t, bk, c, x, y).Value()
			useAsm = saved
			if handled.Load() == before {
				t.Errorf("%s: float32 product did not run ptft's kernel", c.name)
			}
			compareFlat(t, fmt.Sprintf("%s (asm=%v)", c.name, asm), want, got, 1e-5)
		}
		SetActive(prev)
	}
}

// TestFloat64Untouched: float64 products go to the stock executor.
func TestFloat64Untouched(t *testing.T) {
	mustInstall(t)
	bk, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Finalize()
	rng := rand.New(rand.NewPCG(3, 4))
	c := dotCases[1]
	x, y := randomTensor[float64](rng, c.lhsDims), randomTensor[float64](rng, c.rhsDims)
	prev := SetActive(false)
	want := runDot(t, bk, c, x, y).Value().([][][]float64)
	SetActive(true)
	before := handled.Load()
	got := runDot(t, bk, c, x, y).Value().([][][]float64)
	SetActive(prev)
	if handled.Load() != before {
		t.Errorf("a float64 product ran ptft's float32 kernel")
	}
	for i := range want {
		for j := range want[i] {
			for k := range want[i][j] {
				if want[i][j][k] != got[i][j][k] {
					t.Fatalf("float64 result changed at %d,%d,%d: %v vs %v", i, j, k, got[i][j][k], want[i][j][k])
				}
			}
		}
	}
}

// TestMatmulAgainstFloat64 checks the kernel itself against a float64
// reference with the norm-wise float32 bound, for both micro-kernels.
func TestMatmulAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range dotCases {
		x, y := randomTensor[float32](rng, c.lhsDims), randomTensor[float32](rng, c.rhsDims)
		xf, yf := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](y)
		lhs, ok1 := newOperand(xf, c.lhsDims, c.lhsBatch, c.lhsContr)
		rhs, ok2 := newOperand(yf, c.rhsDims, c.rhsBatch, c.rhsContr)
		if !ok1 || !ok2 {
			t.Fatalf("%s: operands rejected", c.name)
		}
		bsz, m, n, k := lhs.batch(), lhs.cross(), rhs.cross(), lhs.contracting()
		for _, asm := range []bool{true, false} {
			if asm && !useAsm {
				continue
			}
			saved := useAsm
			useAsm = asm
			out := make([]float32, bsz*m*n)
			for i := range out {
				out[i] = float32(math.NaN()) // Matmul must overwrite
			}
			Matmul(lhs, rhs, out)
			useAsm = saved
			for b := range bsz {
				for i := range m {
					for j := range n {
						var ref, mag float64
						for kk := range k {
							p := float64(xf[lhs.Batch[b]+lhs.Cross[i]+lhs.Contracting[kk]]) *
								float64(yf[rhs.Batch[b]+rhs.Cross[j]+rhs.Contracting[kk]])
							ref += p
							mag += math.Abs(p)
						}
						got := float64(out[(b*m+i)*n+j])
						if math.Abs(got-ref) > 1e-6*float64(k)*mag+1e-30 || math.IsNaN(got) {
							t.Fatalf("%s (asm=%v) at %d,%d,%d: %v, want %v", c.name, asm, b, i, j, got, ref)
						}
					}
				}
			}
		}
	}
}

// compareFlat compares two nested float32 slices element-wise with a
// tolerance relative to the largest magnitude of the result.
func compareFlat(t *testing.T, name string, want, got any, tol float64) {
	t.Helper()
	wf, gf := flatten(want), flatten(got)
	if len(wf) != len(gf) {
		t.Fatalf("%s: %d values, want %d", name, len(gf), len(wf))
	}
	scale := 0.0
	for _, v := range wf {
		scale = max(scale, math.Abs(v))
	}
	for i := range wf {
		if d := math.Abs(wf[i] - gf[i]); d > tol*max(scale, 1e-30) || math.IsNaN(gf[i]) {
			t.Fatalf("%s: value %d is %v, stock %v (|diff| %.3g, scale %.3g)", name, i, gf[i], wf[i], d, scale)
		}
	}
}

func flatten(v any) []float64 {
	switch x := v.(type) {
	case float32:
		return []float64{float64(x)}
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out
	case [][]float32:
		var out []float64
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case [][][]float32:
		var out []float64
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case [][][][]float32:
		var out []float64
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	}
	panic(fmt.Sprintf("flatten: %T", v))
}

// TestDescribe names the kernel in use.
func TestDescribe(t *testing.T) {
	mustInstall(t)
	prev := SetActive(false)
	if Describe() != "stock" {
		t.Errorf("Describe with kernels off = %q", Describe())
	}
	SetActive(true)
	if d := Describe(); d != "ptft-avx2fma" && d != "ptft-go" {
		t.Errorf("Describe with kernels on = %q", d)
	}
	SetActive(prev)
}
