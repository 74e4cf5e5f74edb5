package baseline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/data"
)

// GammaPoissonTest tests the gamma-Poisson model of eb-gamma-poisson
// (rates lambda_k ~ Gamma) against any mixing distribution of the rates,
// npmle-poisson's, by the likelihood ratio of the two fits on the
// instances' totals, calibrated by a parametric bootstrap: Replicates
// portfolios of the same n_k drawn from the fitted gamma-Poisson model
// and fitted alike. The ratio's null distribution depends on how much
// each instance says about its rate (its n_k and level), not only on K,
// so no fixed threshold serves (on gamma-Poisson portfolios with K = 100
// to 5,000 it ranged from 0 to 50), hence the bootstrap.
type GammaPoissonTest struct {
	// Replicates is the number of bootstrap portfolios (0: 19, so that a
	// ratio above all of them has p = 0.05).
	Replicates int
	// Seed fixes the bootstrap draws.
	Seed uint64
	// ZeroInflated tests eb-zi-gamma-poisson's model instead: a share of
	// rates 0, the others gamma (ZeroInflatedEB), fitted and drawn alike.
	ZeroInflated bool
}

// GammaPoissonResult is a test's outcome: the log-likelihood ratio of
// the nonparametric fit over the gamma fit, its bootstrap p-value,
// (1 + replicates at or above it) / (1 + replicates), and its distance
// from the replicates' mean in their standard deviations, Z, which
// resolves levels far below 1 / (1 + replicates).
type GammaPoissonResult struct {
	LogRatio, PValue, Z float64
}

// Run tests p's counts. Both fits use only each instance's total and
// n_k, which are sufficient for the rate.
func (t GammaPoissonTest) Run(p *data.Portfolio) (GammaPoissonResult, error) {
	if err := p.Validate(); err != nil {
		return GammaPoissonResult{}, err
	}
	lr, h, zero, err := gammaPoissonLogRatio(p, t.ZeroInflated)
	if err != nil {
		return GammaPoissonResult{}, err
	}
	reps := t.Replicates
	if reps <= 0 {
		reps = 19
	}
	// Replicates run concurrently, each from its own stream of the seed,
	// and are summed in order: the result does not depend on scheduling.
	ratios := make([]float64, reps)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for r := range reps {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rng := rand.New(rand.NewPCG(t.Seed, 0x67616d6d61+uint64(r)))
			sim := &data.Portfolio{Source: p.Source, IDs: p.IDs, Ratios: p.Ratios, Obs: make([][]float64, p.Len())}
			for k, o := range p.Obs {
				rate := h.Mean
				if !math.IsInf(h.Shape, 1) {
					rate = distuv.Gamma{Alpha: h.Shape, Beta: h.Rate, Src: rng}.Rand()
				}
				if zero > 0 && rng.Float64() < zero {
					rate = 0
				}
				// The total of n_k counts is Poisson(n_k rate); it goes into
				// the first observation, the rest are zeros: the fits see the
				// same sufficient statistics as from n_k separate counts.
				sim.Obs[k] = make([]float64, len(o))
				if rate > 0 {
					sim.Obs[k][0] = distuv.Poisson{Lambda: float64(len(o)) * rate, Src: rng}.Rand()
				}
			}
			// A replicate of all zeros cannot be fitted: its ratio stays 0.
			ratios[r], _, _, _ = gammaPoissonLogRatio(sim, t.ZeroInflated)
		})
	}
	wg.Wait()
	above := 0
	for _, r := range ratios {
		if r >= lr {
			above++
		}
	}
	mean, sd := stat.MeanStdDev(ratios, nil)
	z := math.Inf(1)
	switch {
	case sd > 0:
		z = (lr - mean) / sd
	case lr <= mean:
		z = 0
	}
	return GammaPoissonResult{LogRatio: lr, PValue: float64(1+above) / float64(1+reps), Z: z}, nil
}

// gammaPoissonLogRatio returns the log-likelihood of p's totals under
// npmle-poisson's fit minus under the marginal-likelihood gamma fit
// (zero-inflated: ZeroInflatedEB's fit), and that fit: its gamma and its
// share of rates 0.
func gammaPoissonLogRatio(p *data.Portfolio, zeroInflated bool) (float64, Hyper, float64, error) {
	var h Hyper
	var zero float64
	var err error
	if zeroInflated {
		h, zero, err = ZeroInflatedEB{}.Estimate(p)
	} else {
		h, err = estimateGammaPoisson(p, MarginalLikelihood)
	}
	if err != nil {
		return 0, Hyper{}, 0, err
	}
	if !(h.Shape > 0) || (!math.IsInf(h.Shape, 1) && !(h.Rate > 0)) {
		return 0, Hyper{}, 0, fmt.Errorf("%s: gamma-Poisson fit failed (shape %v, rate %v)", p.Source, h.Shape, h.Rate)
	}
	if math.IsInf(h.Shape, 1) {
		h.Mean = 0
		n := 0.0
		for _, o := range p.Obs {
			for _, x := range o {
				h.Mean += x
			}
			n += float64(len(o))
		}
		h.Mean /= n
	}
	g, st, err := NPMLE{Family: PoissonMixture}.fitPoisson(p)
	if err != nil {
		return 0, Hyper{}, 0, err
	}
	// Both log-likelihoods leave out the same -log s! of each total s.
	lr := 0.0
	ll := make([]float64, len(g.Atoms))
	for k := range st.sum {
		s, n := st.sum[k], st.n[k]
		poissonLogLik(ll, g.Atoms, s, n)
		top := math.Inf(-1)
		for j, w := range g.Weights {
			if w > 0 {
				ll[j] += math.Log(w)
			} else {
				ll[j] = math.Inf(-1)
			}
			top = max(top, ll[j])
		}
		mix := 0.0
		for _, l := range ll {
			mix += math.Exp(l - top)
		}
		lr += top + math.Log(mix)
		if math.IsInf(h.Shape, 1) {
			lr -= s*math.Log(n*h.Mean) - n*h.Mean
			continue
		}
		lr -= zeroInflatedTotalLogLik(s, n, h.Shape, h.Rate, zero)
	}
	return lr, h, zero, nil
}
