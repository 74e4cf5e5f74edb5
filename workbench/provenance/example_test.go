package provenance_test

import (
	"fmt"

	"github.com/ptft-lab/ptft/workbench/provenance"
)

func ExampleNew() {
	r := provenance.New("rossmann K=1115 N=10", 42, "none")
	fmt.Println(r.Config, r.Seed, r.Backend, r.Version != "")
	// Output:
	// rossmann K=1115 N=10 42 none true
}
