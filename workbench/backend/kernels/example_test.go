package kernels_test

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/backend/kernels"
)

// workbench/backend installs the kernels when it starts the pure-Go
// backend; a program that starts simplego itself can install them too.
func Example() {
	if err := kernels.Install(); err != nil {
		fmt.Println("GoMLX's own kernels:", err)
		return
	}
	fmt.Println("kernels:", kernels.Describe()) // ptft-avx2fma, or ptft-go without AVX2+FMA
	prev := kernels.SetActive(false)            // GoMLX's executors, for an A/B measurement
	kernels.SetActive(prev)
}
