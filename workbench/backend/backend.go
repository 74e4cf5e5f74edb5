// Package backend is the one place where ptft picks the GoMLX backend.
//
// Default: GoMLX's pure-Go backend ("go"). GoMLX's own default is XLA,
// which, offline, panics while trying to download a PJRT plugin; ptft never
// falls into that. When GOMLX_BACKEND is set it is honoured: "xla:cpu",
// "xla:cuda", or "xla:/abs/path/to/plugin.so" (for example the
// jax_plugins/xla_cuda13/xla_cuda_plugin.so of an installed jax-cuda13-pjrt
// wheel). GOMLX_NO_AUTO_INSTALL=1 stops the XLA backend from trying to
// download plugins. A backend that fails to start is an error naming the
// variable and the fallback, never a panic.
//
// On a CUDA plugin ptft asks for full float32 matrix products unless the
// user chose otherwise (see CUDADefaults).
//
// New also installs, once, ptft's matmul-based gradients of Dot and
// DotGeneral (see gradients.go), and, when it starts the pure-Go backend,
// ptft's float32 matrix-product kernel (package kernels;
// PTFT_STOCK_KERNELS=1 keeps GoMLX's own).
package backend

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego" // the default backend
	_ "github.com/gomlx/gomlx/backends/xla"    // compiled in (cgo): used when GOMLX_BACKEND asks for it
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/ptft-lab/ptft/workbench/backend/kernels"
)

// EnvVar is the variable that selects a backend.
const EnvVar = backends.ConfigEnvVar

// Default is the configuration used when EnvVar is unset. ops_sequential
// works around GoMLX v0.26.0's pure-Go worker pool, which can deadlock when
// several DotGenerals run in parallel (seen on 2 cores: a training step hung
// with every worker waiting in WaitToStart). Delete it once GoMLX fixes the
// pool; TestTrainingStepsDoNotDeadlock guards it.
const Default = "go:ops_sequential"

// Resolve returns the configuration ptft starts for the value of EnvVar:
// Default when unset; a pure-Go configuration that names no execution mode
// (ops_sequential, ops_parallel or parallelism) gets ops_sequential added;
// anything else is kept as the user wrote it.
func Resolve(env string) string {
	env = strings.TrimSpace(env)
	if env == "" {
		return Default
	}
	name, opts, _ := strings.Cut(env, ":")
	if name != "go" {
		return env
	}
	for _, o := range strings.Split(opts, ",") {
		key, _, _ := strings.Cut(strings.TrimSpace(o), "=")
		if key == "ops_sequential" || key == "ops_parallel" || key == "parallelism" {
			return env
		}
	}
	if opts == "" {
		return "go:ops_sequential"
	}
	return env + ",ops_sequential"
}

var (
	mu      sync.Mutex
	started = map[string]backends.Backend{}
)

// New returns the backend selected by EnvVar (see Resolve), started once per
// configuration and shared, with ptft's gradients installed.
func New() (backends.Backend, error) {
	return NewWithConfig(Resolve(os.Getenv(EnvVar)))
}

// NewWithConfig starts (once) the backend of an explicit configuration.
func NewWithConfig(config string) (b backends.Backend, err error) {
	InstallGradients()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := started[config]; ok {
		return b, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
		if err != nil {
			b = nil
			err = fmt.Errorf("cannot start GoMLX backend %q (from %s=%q): %v; unset %s to use the pure-Go backend (%s), "+
				"or point it at an installed PJRT plugin, e.g. xla:/abs/path/xla_cuda_plugin.so",
				config, EnvVar, os.Getenv(EnvVar), err, EnvVar, Default)
		}
	}()
	if IsCUDA(config) {
		for k, v := range CUDADefaults(os.Getenv) {
			if err := os.Setenv(k, v); err != nil {
				return nil, err
			}
		}
	}
	if strings.HasPrefix(config, "go") {
		tuneOnce.Do(tunePureGo)
		_ = kernels.Install() // on refusal it logs why and keeps GoMLX's executor
	}
	b, err = backends.NewWithConfig(config)
	if err == nil {
		started[config] = b
	}
	return b, err
}

var tuneOnce sync.Once

// PureGoFloat32BlockLog2 is the log2 of the float32 block size ptft gives the
// pure-Go backend's blocked matrix product (simplego.DotGeneralTargetBlockLog2Dim).
// GoMLX v0.26.0 derives 32x32 from a cache-size guess; our products are thin
// (64 or 16 wide), and 16x16 blocks ran the reference training step in
// 553 ms instead of 644 ms (8x8: 586 ms, 64x64: 777 ms) on 2 cores. It also
// moves the switch to the small-matrix kernel, which rounds differently, so
// pure-Go results change in the last bits when this changes.
const PureGoFloat32BlockLog2 = 4

// tunePureGo sets the pure-Go backend's tuning before its first use; a
// program that sets simplego.DotGeneralTargetBlockLog2Dim after that keeps
// its own value.
func tunePureGo() {
	simplego.DotGeneralTargetBlockLog2Dim[dtypes.Float32] = PureGoFloat32BlockLog2
}

// IsCUDA reports whether config starts XLA on an NVIDIA CUDA plugin
// ("xla:cuda", or a plugin path naming cuda or nvidia).
func IsCUDA(config string) bool {
	name, plugin, _ := strings.Cut(strings.ToLower(config), ":")
	return name == "xla" && (strings.Contains(plugin, "cuda") || strings.Contains(plugin, "nvidia"))
}

// CUDADefaults returns the environment settings ptft adds before starting
// XLA on a CUDA plugin, given the current environment; settings the user
// made are kept.
//
// By default XLA computes float32 matrix products on Ampere and later GPUs
// in TF32 (10-bit mantissa), both in its Triton GEMM fusions and in cuBLAS.
// Measured on an H200 with the jax-cuda13 plugin: decisions moved by about
// 1e-4 relative, so permuting instances or padding changed them by more
// than the 1e-5 the model's properties are tested at, and results differed
// from the CPU backends'. NVIDIA_TF32_OVERRIDE=0 alone did not help (the
// Triton fusions ignore it); with --xla_gpu_enable_triton_gemm=false as
// well every property held. The reference training step took 4.5 to 6.9 ms
// with these settings and 4.9 ms without (run-to-run noise at this size).
//
// Setting NVIDIA_TF32_OVERRIDE yourself (to any value; 1 allows TF32) turns
// both settings off, for plugins whose XLA no longer knows the flag; a
// triton_gemm flag already in XLA_FLAGS is kept.
func CUDADefaults(getenv func(string) string) map[string]string {
	if getenv("NVIDIA_TF32_OVERRIDE") != "" {
		return nil
	}
	set := map[string]string{"NVIDIA_TF32_OVERRIDE": "0"}
	if flags := getenv("XLA_FLAGS"); !strings.Contains(flags, "xla_gpu_enable_triton_gemm") {
		set["XLA_FLAGS"] = strings.TrimSpace(flags + " --xla_gpu_enable_triton_gemm=false")
	}
	return set
}

// Name returns the configuration New would start, for provenance records;
// on the pure-Go backend it names the matrix kernel too
// ("go:ops_sequential+ptft-avx2fma").
func Name() string {
	config := Resolve(os.Getenv(EnvVar))
	if strings.HasPrefix(config, "go") {
		return config + "+" + kernels.Describe()
	}
	return config
}

// PureGoShards is the number of shards a training batch is split into on
// the pure-Go backend, each run by its own execution, concurrently.
//
// The pure-Go backend runs a graph's operations one at a time
// (ops_sequential) and only its matrix products on several cores: on
// 2 cores the reference forward pass used about 1.3 of them; two
// half-batches run concurrently took 100 ms against 146 ms for the whole
// batch, and the reference training step went from about 0.55 s to 0.35 s
// (3 shards: 0.37 s, 4: 0.38 s). The number is fixed rather than the CPU
// count because the shards' gradients are summed, and the rounding of the
// sum depends on the split: a seed then gives the same run on any machine.
//
// Concurrent executions are safe from the worker-pool deadlock that
// ops_sequential avoids: only the calling goroutines wait for a worker,
// never the workers themselves (TestTrainingStepsDoNotDeadlock runs them
// under the race detector).
const PureGoShards = 2

// Concurrency is how many shards ptft splits a training batch into on b:
// PureGoShards on the pure-Go backend, 1 elsewhere (XLA runs a whole batch
// in parallel on its device).
func Concurrency(b backends.Backend) int {
	if _, pureGo := b.(*simplego.Backend); pureGo {
		return PureGoShards
	}
	return 1
}
