package train

import (
	"testing"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// BenchmarkTrainStep times one pretraining step of the reference size:
// B = 16 environments, K = 64, n = 8, width 64, 2 blocks, 4 heads, both
// passes (decisions, exact loss on the CPU, update). Sub-benchmarks compare
// ptft's matmul gradients with GoMLX v0.26.0's own. The backend follows
// GOMLX_BACKEND (default go:ops_sequential).
func BenchmarkTrainStep(b *testing.B) {
	p, _ := prior.Lookup("normal-normal")
	o := DefaultOptions(p)
	o.Instances = prior.IntRange{Min: 64, Max: 64}
	o.Obs = prior.IntRange{Min: 8, Max: 8}
	envs, err := o.Environments(0)
	if err != nil {
		b.Fatal(err)
	}
	for _, stock := range []bool{false, true} {
		name := "ptft-gradients"
		if stock {
			name = "gomlx-stock-gradients"
		}
		b.Run(name, func(b *testing.B) {
			backend.UseStockGradients(stock)
			defer backend.UseStockGradients(false)
			m, err := model.New(model.DefaultConfig(), 1)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := NewTrainer(m, 1e-3)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tr.Step(envs, 1e-3, 64, 8); err != nil { // compile
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := tr.Step(envs, 1e-3, 64, 8); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
