package rossmann

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

// Config is one benchmark configuration.
type Config struct {
	Instances  int     `json:"instances"` // K: the first K stores in column order
	Obs        int     `json:"obs"`       // N draws per store (the mean, with PoissonObs)
	PoissonObs bool    `json:"poisson_obs"`
	Runs       int     `json:"runs"`
	Ratio      float64 `json:"critical_ratio"` // s in Gupta & Kallus
	Seed       uint64  `json:"seed"`
}

// DefaultConfig is Gupta & Kallus's main setting: all 1,115 stores, N = 10,
// s = 0.95, 200 runs.
func DefaultConfig() Config {
	return Config{Instances: 1115, Obs: 10, Runs: 200, Ratio: 0.95, Seed: 1}
}

// Row is one method's result over the runs.
type Row struct {
	Method string `json:"method"`
	// Benefit is the mean over runs of 1 - cost(method)/cost(SAA), with its
	// standard error (absent with one run, where it is undefined).
	Benefit   float64  `json:"benefit_over_saa"`
	BenefitSE *float64 `json:"benefit_se,omitempty"`
	// Cost is the mean expected cost per store, in Gupta & Kallus's units
	// (underage s/(1-s), overage 1).
	Cost   float64  `json:"mean_cost"`
	CostSE *float64 `json:"cost_se,omitempty"`
	// Seconds is the mean decision time per run.
	Seconds float64 `json:"seconds_per_run"`
}

// Result is the benchmark table.
type Result struct {
	Provenance provenance.Record `json:"provenance"`
	Config     Config            `json:"config"`
	Rows       []Row             `json:"rows"`
	// MeanAlpha is Shrunken-SAA's mean chosen alpha (grand-mean anchor).
	MeanAlpha float64 `json:"shrunken_saa_mean_alpha"`
}

// Run executes the benchmark for policies (SAA must be among them; the
// oracle row is added).
func Run(d *Data, cfg Config, policies []baseline.Policy) (*Result, error) {
	if cfg.Instances < 1 || cfg.Instances > len(d.Stores) {
		return nil, fmt.Errorf("rossmann: instances %d outside 1..%d", cfg.Instances, len(d.Stores))
	}
	if cfg.Obs < 1 || cfg.Runs < 1 {
		return nil, fmt.Errorf("rossmann: obs %d and runs %d must be >= 1", cfg.Obs, cfg.Runs)
	}
	if err := data.CheckRatio(cfg.Ratio); err != nil {
		return nil, fmt.Errorf("rossmann: %w", err)
	}
	saa := -1
	for i, p := range policies {
		if p.Name() == "saa" {
			saa = i
		}
	}
	if saa < 0 {
		return nil, fmt.Errorf("rossmann: benefit is relative to SAA; include it")
	}
	k := cfg.Instances
	truths := make([]dist.Distribution, k)
	cum := make([][]float64, k)
	ratios := make([]float64, k)
	for s := range k {
		truths[s] = d.Truth(s)
		ratios[s] = cfg.Ratio
		cum[s] = make([]float64, d.Bins())
		c := 0.0
		for i, p := range d.Probs[s] {
			c += p
			cum[s][i] = c
		}
	}
	oracle := baseline.Oracle{Truth: truths}
	all := append(append([]baseline.Policy{}, policies...), oracle)
	costs := make([][]float64, len(all)) // [method][run] mean cost per store
	secs := make([]float64, len(all))
	alphaSum := 0.0
	scale := 1 / (1 - cfg.Ratio)
	for r := range cfg.Runs {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(r)))
		pf := sample(d, k, cfg, cum, rng)
		for m, pol := range all {
			start := time.Now()
			var q []float64
			var err error
			// The plain grand-mean Shrunken-SAA reports its alpha (not its
			// uniform-anchor or additive variants).
			if s, ok := pol.(*baseline.ShrunkenSAA); ok && s.Name() == "shrunken-saa" {
				var fit *baseline.ShrunkenFit
				fit, err = s.Fit(pf)
				if err == nil {
					q = fit.Decisions
					alphaSum += fit.Alpha
					err = baseline.CheckDecisions(pol.Name(), pf, q)
				}
			} else {
				q, err = baseline.Decide(pol, pf)
			}
			if err != nil {
				return nil, fmt.Errorf("rossmann run %d: %s: %w", r, pol.Name(), err)
			}
			secs[m] += time.Since(start).Seconds()
			rep, err := problem.Evaluate(problem.Newsvendor{}, truths, ratios, q)
			if err != nil {
				return nil, err
			}
			costs[m] = append(costs[m], rep.Cost*scale)
		}
	}
	res := &Result{Provenance: provenance.New("rossmann", cfg.Seed, "none"), Config: cfg, MeanAlpha: alphaSum / float64(cfg.Runs)}
	for m, pol := range all {
		ben := make([]float64, cfg.Runs)
		for r := range ben {
			ben[r] = 1 - costs[m][r]/costs[saa][r]
		}
		row := Row{Method: pol.Name(), Seconds: secs[m] / float64(cfg.Runs)}
		row.Benefit, row.BenefitSE = meanSE(ben)
		row.Cost, row.CostSE = meanSE(costs[m])
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// Sample returns run r's observations (with each store's support) exactly
// as Run draws them, and the stores' full-history distributions: the files
// `ptft rossmann --export` writes, so that the CSV path (ptft decide
// --support) can be checked against the benchmark.
func Sample(d *Data, cfg Config, r int) (*data.Portfolio, []dist.Distribution, error) {
	if cfg.Instances < 1 || cfg.Instances > len(d.Stores) {
		return nil, nil, fmt.Errorf("rossmann: instances %d outside 1..%d", cfg.Instances, len(d.Stores))
	}
	k := cfg.Instances
	truths := make([]dist.Distribution, k)
	cum := make([][]float64, k)
	for s := range k {
		truths[s] = d.Truth(s)
		cum[s] = make([]float64, d.Bins())
		c := 0.0
		for i, p := range d.Probs[s] {
			c += p
			cum[s][i] = c
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(r)))
	return sample(d, k, cfg, cum, rng), truths, nil
}

// sample draws one run's observations: N (or Poisson(N), redrawn while zero,
// since a store with no data has no SAA decision) days per store.
func sample(d *Data, k int, cfg Config, cum [][]float64, rng *rand.Rand) *data.Portfolio {
	pf := &data.Portfolio{Source: "rossmann", IDs: d.Stores[:k], Obs: make([][]float64, k),
		Ratios: make([]float64, k), Support: d.Support[:k]}
	pois := distuv.Poisson{Lambda: float64(cfg.Obs), Src: rng}
	for s := range k {
		n := cfg.Obs
		if cfg.PoissonObs {
			for n = 0; n == 0; {
				n = int(pois.Rand())
			}
		}
		obs := make([]float64, n)
		for j := range obs {
			u := rng.Float64()
			i := 0
			for i < len(cum[s])-1 && cum[s][i] <= u {
				i++
			}
			obs[j] = d.Support[s][i]
		}
		pf.Obs[s] = obs
		pf.Ratios[s] = cfg.Ratio
	}
	return pf
}

// meanSE returns the mean and, with two or more values, its standard error.
func meanSE(x []float64) (float64, *float64) {
	if len(x) < 2 {
		return stat.Mean(x, nil), nil
	}
	m, sd := stat.MeanStdDev(x, nil)
	se := sd / math.Sqrt(float64(len(x)))
	return m, &se
}
