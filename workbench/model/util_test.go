package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
)

func tensorOf(f []float32, dims []int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(f, dims...)
}

// perturb sets every variable of m whose scope and name match to N(0,
// std^2) entries drawn from rng, in the context's variable order.
func perturb(m *Model, rng *rand.Rand, std float64, match func(scopeAndName string) bool) {
	for v := range m.ctx.IterVariables() {
		if !match(v.ScopeAndName()) {
			continue
		}
		old := v.MustValue()
		f := make([]float32, old.Shape().Size())
		for i := range f {
			f[i] = float32(std * rng.NormFloat64())
		}
		v.MustSetValue(tensorOf(f, old.Shape().Dimensions))
	}
}

// crossValidatedMixture is what an experts head with no learned part
// decides for instance i of bt (scaled units): the experts weighted by
// exp(-cvGateScale cv), pulled to the SAA value by the constant flags,
// an untrained constant gate giving a "possible" constant weight 1/2.
func crossValidatedMixture(bt *Batch, i int) float32 {
	hd := bt.Head[i*bt.H : (i+1)*bt.H]
	var mix, sum float32
	for e := range NumExperts {
		w := float32(math.Exp(-cvGateScale * float64(hd[4+NumExperts+e])))
		mix += w * hd[4+e]
		sum += w
	}
	mix /= sum
	return mix + (hd[3]+hd[2]*0.5)*(hd[4]-mix)
}

// portfolioOf draws K instances of n days from a prior of kind with fixed
// hyperparameters (families for a managerial one), rho 0.9.
func portfolioOf(t *testing.T, kind string, families []string, level, spread, cv float64, k, n int, seed uint64) *data.Portfolio {
	t.Helper()
	pr := &prior.Prior{Name: "model-test", Version: "1", Kind: kind, Families: families,
		Level: prior.Fixed(level), Spread: prior.Fixed(spread), CV: prior.Fixed(cv), Noise: prior.Fixed(0),
		Instances: prior.IntRange{Min: k, Max: k}, Obs: prior.IntRange{Min: n, Max: n}, Ratio: prior.Fixed(0.9)}
	env, err := pr.Generate(seed, prior.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env.Portfolio
}
