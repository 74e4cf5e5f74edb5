package kernels

import "golang.org/x/sys/cpu"

// useAsm selects the AVX2+FMA micro-kernel; tests switch it to check the
// portable one too.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func sgemm6x16(depth int, a, b, tile *float32)

func microKernel(depth int, a, b []float32, tile *[mr * nr]float32) {
	if useAsm && depth > 0 {
		_ = a[depth*mr-1]
		_ = b[depth*nr-1]
		sgemm6x16(depth, &a[0], &b[0], &tile[0])
		return
	}
	microKernelGo(depth, a, b, tile)
}
