package backend

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestResolve(t *testing.T) {
	for in, want := range map[string]string{
		"":                         Default,
		"go":                       "go:ops_sequential",
		"go:parallelism=1":         "go:parallelism=1",
		"go:ops_parallel":          "go:ops_parallel",
		"go:dotgeneral_small":      "go:dotgeneral_small,ops_sequential",
		"xla:cpu":                  "xla:cpu",
		"xla:/opt/p/xla_plugin.so": "xla:/opt/p/xla_plugin.so",
	} {
		if got := Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCUDADefaultsKeepTheUsersChoice(t *testing.T) {
	for config, want := range map[string]bool{
		"xla:cuda": true, "xla:/opt/venv/jax_plugins/xla_cuda13/xla_cuda_plugin.so": true,
		"xla:cpu": false, "go": false, "go:ops_sequential": false, "cuda": false,
	} {
		if IsCUDA(config) != want {
			t.Errorf("IsCUDA(%q) = %v", config, !want)
		}
	}
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	got := CUDADefaults(env(nil))
	if got["NVIDIA_TF32_OVERRIDE"] != "0" || got["XLA_FLAGS"] != "--xla_gpu_enable_triton_gemm=false" {
		t.Errorf("defaults on an empty environment: %v", got)
	}
	got = CUDADefaults(env(map[string]string{"XLA_FLAGS": "--xla_gpu_autotune_level=0"}))
	if got["XLA_FLAGS"] != "--xla_gpu_autotune_level=0 --xla_gpu_enable_triton_gemm=false" {
		t.Errorf("other XLA flags not kept: %v", got)
	}
	got = CUDADefaults(env(map[string]string{"XLA_FLAGS": "--xla_gpu_enable_triton_gemm=true"}))
	if _, ok := got["XLA_FLAGS"]; ok || got["NVIDIA_TF32_OVERRIDE"] != "0" {
		t.Errorf("the user's triton_gemm flag overridden: %v", got)
	}
	if got = CUDADefaults(env(map[string]string{"NVIDIA_TF32_OVERRIDE": "1"})); len(got) != 0 {
		t.Errorf("NVIDIA_TF32_OVERRIDE set by the user, yet ptft sets %v", got)
	}
}

func TestDefaultIsPureGo(t *testing.T) {
	t.Setenv(EnvVar, "")
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "go" && !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Errorf("default backend %q, want the pure-Go backend", b.Name())
	}
}

func TestBadBackendIsAnErrorNotAPanic(t *testing.T) {
	t.Setenv(EnvVar, "nosuchbackend:x")
	_, err := New()
	if err == nil || !strings.Contains(err.Error(), EnvVar) || !strings.Contains(err.Error(), Default) {
		t.Errorf("error %v should name %s and the fallback %s", err, EnvVar, Default)
	}
	t.Setenv(EnvVar, "xla:/nonexistent/plugin.so")
	t.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	if _, err := New(); err == nil {
		t.Error("missing plugin accepted")
	}
}

// testBackend follows GOMLX_BACKEND, so the gradient tests also check the
// matmul VJPs on an XLA backend (CPU or CUDA plugin) when one is selected.
func testBackend(t testing.TB) backends.Backend {
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type dotCase struct {
	name    string
	lhsDims []int
	lc, lb  []int
	rhsDims []int
	rc, rb  []int
}

var dotCases = []dotCase{
	{"matmul", []int{3, 4}, []int{1}, nil, []int{4, 5}, []int{0}, nil},
	{"batched", []int{2, 3, 4}, []int{2}, []int{0}, []int{2, 4, 5}, []int{1}, []int{0}},
	// Batch, contracting and free axes in non-canonical orders.
	{"scrambled", []int{2, 3, 4, 5}, []int{3, 0}, []int{2}, []int{5, 4, 6, 2}, []int{0, 3}, []int{1}},
	{"two-batch", []int{3, 2, 4, 5}, []int{2}, []int{3, 1}, []int{2, 5, 4, 6}, []int{2}, []int{1, 0}},
	{"no-free", []int{4, 3}, []int{0}, []int{1}, []int{3, 4}, []int{1}, []int{0}},
}

func randomTensor[T float32 | float64](rng *rand.Rand, dims []int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	flat := make([]T, n)
	for i := range flat {
		flat[i] = T(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(flat, dims...)
}

// gradients returns d/d(lhs, rhs) of sum(w * DotGeneral(lhs, rhs)) with the
// DotGeneral VJP currently registered.
func gradients(t *testing.T, c dotCase, lhs, rhs, w *tensors.Tensor) (gl, gr *tensors.Tensor) {
	e := MustNewExec(testBackend(t), func(lhs, rhs, w *Node) []*Node {
		out := DotGeneral(lhs, c.lc, c.lb, rhs, c.rc, c.rb)
		loss := ReduceAllSum(Mul(out, w))
		return Gradient(loss, lhs, rhs)
	})
	out, err := e.Exec(lhs, rhs, w)
	if err != nil {
		t.Fatal(err)
	}
	return out[0], out[1]
}

func outDims(c dotCase) []int {
	var d []int
	for _, a := range c.lb {
		d = append(d, c.lhsDims[a])
	}
	for _, a := range freeAxes(len(c.lhsDims), c.lc, c.lb) {
		d = append(d, c.lhsDims[a])
	}
	for _, a := range freeAxes(len(c.rhsDims), c.rc, c.rb) {
		d = append(d, c.rhsDims[a])
	}
	return d
}

func flat64(t *tensors.Tensor) []float64 {
	if t.DType() == dtypes.Float32 {
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	return tensors.MustCopyFlatData[float64](t)
}

func assertClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func withStockGradients(f func()) {
	ours := VJPRegistration[NodeTypeDotGeneral]
	VJPRegistration[NodeTypeDotGeneral] = stock[NodeTypeDotGeneral]
	defer func() { VJPRegistration[NodeTypeDotGeneral] = ours }()
	f()
}

func TestDotGeneralGradientMatchesStockAndFiniteDifferences(t *testing.T) {
	InstallGradients()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range dotCases {
		for _, dt := range []string{"float32", "float64"} {
			var lhs, rhs, w *tensors.Tensor
			tol := 1e-10
			if dt == "float32" {
				lhs, rhs, w = randomTensor[float32](rng, c.lhsDims), randomTensor[float32](rng, c.rhsDims), randomTensor[float32](rng, outDims(c))
				tol = 1e-4
			} else {
				lhs, rhs, w = randomTensor[float64](rng, c.lhsDims), randomTensor[float64](rng, c.rhsDims), randomTensor[float64](rng, outDims(c))
			}
			gl, gr := gradients(t, c, lhs, rhs, w)
			var sl, sr *tensors.Tensor
			withStockGradients(func() { sl, sr = gradients(t, c, lhs, rhs, w) })
			assertClose(t, c.name+"/"+dt+" lhs vs stock", flat64(gl), flat64(sl), tol)
			assertClose(t, c.name+"/"+dt+" rhs vs stock", flat64(gr), flat64(sr), tol)
			if dt != "float64" {
				continue
			}
			// Central finite differences of the loss, which is linear in each
			// operand: exact up to rounding.
			loss := MustNewExec(testBackend(t), func(lhs, rhs, w *Node) *Node {
				return ReduceAllSum(Mul(DotGeneral(lhs, c.lc, c.lb, rhs, c.rc, c.rb), w))
			})
			for which, x := range []*tensors.Tensor{lhs, rhs} {
				base := flat64(x)
				grad := flat64([]*tensors.Tensor{gl, gr}[which])
				for _, i := range []int{0, len(base) / 2, len(base) - 1} {
					eval := func(delta float64) float64 {
						p := append([]float64(nil), base...)
						p[i] += delta
						pt := tensors.FromFlatDataAndDimensions(p, x.Shape().Dimensions...)
						args := []any{lhs, rhs, w}
						args[which] = pt
						return flat64(loss.MustExec(args...)[0])[0]
					}
					const h = 1e-3
					fd := (eval(h) - eval(-h)) / (2 * h)
					if math.Abs(fd-grad[i]) > 1e-7*(1+math.Abs(fd)) {
						t.Errorf("%s operand %d entry %d: gradient %v, finite difference %v", c.name, which, i, grad[i], fd)
					}
				}
			}
		}
	}
}

func TestDotGradientMatchesStock(t *testing.T) {
	InstallGradients()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dims := range [][2][]int{{{5}, {5}}, {{3, 5}, {5}}, {{3, 5}, {5, 2}}} {
		lhs, rhs := randomTensor[float64](rng, dims[0]), randomTensor[float64](rng, dims[1])
		run := func() []*tensors.Tensor {
			return MustNewExec(testBackend(t), func(lhs, rhs *Node) []*Node {
				out := Dot(lhs, rhs)
				return Gradient(ReduceAllSum(Mul(out, out)), lhs, rhs)
			}).MustExec(lhs, rhs)
		}
		ours := run()
		saved := VJPRegistration[NodeTypeDot]
		VJPRegistration[NodeTypeDot] = stock[NodeTypeDot]
		want := run()
		VJPRegistration[NodeTypeDot] = saved
		for i := range ours {
			assertClose(t, "dot", flat64(ours[i]), flat64(want[i]), 1e-10)
		}
	}
}
