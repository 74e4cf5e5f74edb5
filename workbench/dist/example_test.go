package dist_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/ptft-lab/ptft/workbench/dist"
)

func Example() {
	d := dist.GammaMeanCV(100, 0.5) // mean demand 100, coefficient of variation 0.5
	fmt.Printf("mean %.1f, 0.8-quantile %.2f, P(D<=100) %.4f\n", d.Mean(), d.Quantile(0.8), d.CDF(100))

	src := rand.NewPCG(42, 0) // every draw comes from a named seed
	fmt.Printf("a draw: %.3f\n", d.Rand(src))

	e, _ := dist.NewEmpirical([]float64{12, 7, 9, 15, 11})
	fmt.Println("SAA 0.8-quantile of the sample:", e.Quantile(0.8))
	// Output:
	// mean 100.0, 0.8-quantile 137.88, P(D<=100) 0.5665
	// a draw: 62.051
	// SAA 0.8-quantile of the sample: 12
}
