package prior_test

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/prior"
)

func Example() {
	p, err := prior.Lookup("normal-normal")
	if err != nil {
		panic(err)
	}
	env, err := p.Generate(7, prior.Options{Instances: 3, Obs: prior.IntRange{Min: 2, Max: 2}, Ratio: 0.9})
	if err != nil {
		panic(err)
	}
	for k, id := range env.Portfolio.IDs {
		fmt.Printf("instance %s: %d observations, true mean %.1f\n", id, len(env.Portfolio.Obs[k]), env.Truth[k].Mean())
	}
	// Output:
	// instance 1: 2 observations, true mean 128.9
	// instance 2: 2 observations, true mean 210.7
	// instance 3: 2 observations, true mean 175.9
}
