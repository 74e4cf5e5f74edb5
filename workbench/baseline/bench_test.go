package baseline

import (
	"fmt"
	"testing"

	"github.com/ptft-lab/ptft/workbench/prior"
)

// BenchmarkDecide times each policy on a mixed-managerial portfolio of
// K instances x 5 observations. The 10^6-instance figures in the README come
// from `ptft decide` on a simulated file (see README, "Scale").
func BenchmarkDecide(b *testing.B) {
	p, _ := prior.Lookup("mixed-managerial")
	for _, k := range []int{10_000, 100_000} {
		env, err := p.Generate(1, prior.Options{Instances: k, Obs: prior.IntRange{Min: 5, Max: 5}})
		if err != nil {
			b.Fatal(err)
		}
		for _, pol := range []Policy{SAA{}, PooledSAA{}, &ShrunkenSAA{}, EmpiricalBayes{}, EmpiricalBayes{Method: MarginalLikelihood}} {
			b.Run(fmt.Sprintf("%s/K=%d", pol.Name(), k), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := pol.Decide(env.Portfolio); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
