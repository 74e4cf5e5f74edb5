package rossmann_test

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/rossmann"
)

// The benchmark from a user's own code: load the folder named by PTFT_DATA,
// run two runs on the first 100 stores, print relative benefit over SAA.
func Example() {
	dir, err := rossmann.ResolveDir("")
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := rossmann.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := rossmann.Config{Instances: 100, Obs: 10, Runs: 2, Ratio: 0.95, Seed: 1}
	res, err := rossmann.Run(d, cfg, []baseline.Policy{baseline.SAA{}, &baseline.ShrunkenSAA{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Rows {
		fmt.Printf("%s %.1f%%\n", r.Method, 100*r.Benefit)
	}
}
