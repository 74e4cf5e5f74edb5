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
		for _, pol := range []Policy{SAA{}, PooledSAA{}, &ShrunkenSAA{}, EmpiricalBayes{}, EmpiricalBayes{Method: MarginalLikelihood}, LogEB{}, NPMLE{}} {
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

// BenchmarkShrunkenSAALongHistory: one instance with 10^5 observations
// beside 10^4 ordinary ones (5 each). Leave-one-out bisects the shrunk
// CDF, so the long history costs O(n log n) per alpha (it took about an
// hour when every left-out point re-scanned the sample).
func BenchmarkShrunkenSAALongHistory(b *testing.B) {
	pr, _ := prior.Lookup("normal-normal")
	env, err := pr.Generate(1, prior.Options{Instances: 10_000, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.8})
	if err != nil {
		b.Fatal(err)
	}
	p := env.Portfolio
	long := make([]float64, 100_000)
	for i := range long {
		long[i] = p.Obs[0][i%5] * (1 + float64(i%997)/5000)
	}
	p.IDs, p.Obs, p.Ratios = append(p.IDs, "long"), append(p.Obs, long), append(p.Ratios, 0.8)
	for b.Loop() {
		if _, err := (&ShrunkenSAA{}).Decide(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGammaPoissonTest times the count-rule test (19 bootstrap
// replicates) at the sizes the rule selection runs it on: a suite
// portfolio and the selection's largest sample.
func BenchmarkGammaPoissonTest(b *testing.B) {
	for _, k := range []int{1000, 4096} {
		p := countPortfolio(1, k, 6, 0.4)
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			for b.Loop() {
				if _, err := (GammaPoissonTest{Seed: 1}).Run(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEstimateCensored times eb-censored's marginal-likelihood fit
// where many instances hold a zero: the wide normal portfolio of
// TestCensoredEmpiricalBayes (K = 1,000, 99 instances with a zero) and
// gamma demand observed with noise as large as the mean (K = 300, most
// instances with a zero), the data on which the rule selection weighs
// eb-censored most often.
func BenchmarkEstimateCensored(b *testing.B) {
	noisy := &prior.Prior{
		Name: "gamma-noise-1", Version: "1", Kind: prior.Managerial, Families: []string{"gamma"},
		Level: prior.Range{Min: 20, Max: 500, Log: true}, Spread: prior.Range{Min: 0.3, Max: 1},
		CV: prior.Range{Min: 0.2, Max: 0.6}, Noise: prior.Fixed(1),
		Instances: prior.IntRange{Min: 300, Max: 300}, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: prior.Fixed(0.8),
	}
	gamma, err := noisy.Generate(1, prior.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for name, env := range map[string]*prior.Environment{
		"wide/K=1000": normalEnvSpread(b, 1000, 5, 0.8, 0.3, 3),
		"noisy/K=300": gamma,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := (EmpiricalBayes{Censored: true}).Estimate(env.Portfolio); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
