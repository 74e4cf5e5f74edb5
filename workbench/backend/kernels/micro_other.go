//go:build !amd64

package kernels

var useAsm = false

func microKernel(depth int, a, b []float32, tile *[mr * nr]float32) {
	microKernelGo(depth, a, b, tile)
}
