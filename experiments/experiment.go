package experiments

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/model"
)

// Metric is what a cell measures and a report tabulates.
type Metric string

const (
	// Regret is (cost - oracle cost) / oracle cost, lower is better.
	Regret Metric = "regret"
	// Benefit is 1 - cost / cost(SAA) (Rossmann), higher is better.
	Benefit Metric = "benefit"
	// Seconds is the wall time of deciding (finetuning included).
	Seconds Metric = "seconds"
)

// Grid is the size of one variant (full or quick) of an experiment.
type Grid struct {
	Instances []int     `json:"instances"` // values of K
	Obs       []int     `json:"obs"`       // values of n (every instance has n observations)
	Noise     []float64 `json:"noise,omitempty"`
	// PoissonObs lists, for Rossmann, whether N_k ~ Poisson(N) (per value).
	PoissonObs []bool   `json:"poisson_obs,omitempty"`
	Methods    []string `json:"methods"`
	Seeds      int      `json:"seeds"`
	// FinetuneSteps caps finetuning (transformer-finetuned, -scratch).
	FinetuneSteps int `json:"finetune_steps,omitempty"`
	// PretrainSteps is the pretraining budget of each ablation variant (E4).
	PretrainSteps int `json:"pretrain_steps,omitempty"`
	// FinetuneMaxK skips finetuned and scratch methods above this K (0: none).
	FinetuneMaxK int `json:"finetune_max_k,omitempty"`
}

// Experiment is a named, seeded configuration.
type Experiment struct {
	Name, Title string
	// Truth is the prior the environments are drawn from (the pretraining
	// prior for in-prior experiments, a truth-* generator otherwise);
	// "rossmann" for E6.
	Truth string
	// Model is the pretrained model the Transformer methods start from.
	Model       string
	Metric      Metric
	Full, Quick Grid
	// X says what varies along a figure's horizontal axis: "K" or "noise"
	// (the environments then take the cell's noise level).
	X string
	// Variants are method names of the experiment's own models (E4's
	// architectures at an equal pretraining budget).
	Variants map[string]Variant
	// Theory selects the report's theory overlay: TheoryBound (the
	// calibrated bound of theory/README.md and its section) or
	// TheoryPretraining (R*(K) + E_pre, in-prior); empty for none.
	Theory string
}

// Variant is a model architecture an experiment trains itself: pretrained
// for the grid's PretrainSteps on the experiment's prior, or, not
// Pretrained, trained on each portfolio alone (finetuning from random
// weights).
type Variant struct {
	Config     model.Config
	Pretrained bool
}

// ablations are E4's architectures, pretrained at an equal budget, and
// the inducing-point one trained on each portfolio alone.
var ablations = map[string]Variant{
	"inducing-16":        {Config: model.Config{Width: 64, Blocks: 2, Heads: 4, MLPRatio: 2, Inducing: 16}, Pretrained: true},
	"full-attention":     {Config: model.Config{Width: 64, Blocks: 2, Heads: 4, MLPRatio: 2}, Pretrained: true},
	"no-cross-attention": {Config: model.Config{Width: 64, Blocks: 2, Heads: 4, MLPRatio: 2, NoCrossAttention: true}, Pretrained: true},
	"no-pretraining":     {Config: model.Config{Width: 64, Blocks: 2, Heads: 4, MLPRatio: 2, Inducing: 16}},
	// The shipped default's architecture: inducing points with the
	// experts layout (robust statistics, a head mixing classical rules).
	"experts-16": {Config: model.Config{Width: 64, Blocks: 2, Heads: 4, MLPRatio: 2, Inducing: 16, Experts: true}, Pretrained: true},
}

// Theory overlays of a report.
const (
	TheoryBound       = "bound"
	TheoryPretraining = "pretraining"
)

// Cell is one method on one environment.
type Cell struct {
	Experiment string  `json:"experiment"`
	Quick      bool    `json:"quick,omitempty"`
	Truth      string  `json:"truth"`
	Model      string  `json:"model,omitempty"`
	Method     string  `json:"method"`
	K          int     `json:"instances"`
	N          int     `json:"obs"`
	Noise      float64 `json:"noise,omitempty"`
	PoissonObs bool    `json:"poisson_obs,omitempty"`
	// Replicate numbers the environments of one configuration; the
	// environment's seed follows from it, the base seed and the
	// configuration, so every method of a replicate sees the same data.
	Replicate     int    `json:"replicate"`
	EnvSeed       uint64 `json:"env_seed"`
	FinetuneSteps int    `json:"finetune_steps,omitempty"`
	PretrainSteps int    `json:"pretrain_steps,omitempty"`

	noiseAxis bool // the experiment varies noise (X == "noise"): groups by it
}

// Key identifies the cell in raw results.
func (c Cell) Key() string {
	var b strings.Builder
	b.WriteString(c.Experiment)
	if c.Quick {
		b.WriteString("-quick")
	}
	fmt.Fprintf(&b, "/%s/%s/K=%d", c.Truth, c.Group(), c.K)
	if c.FinetuneSteps > 0 && needsFinetune(c.Method) {
		fmt.Fprintf(&b, "/ft=%d", c.FinetuneSteps)
	}
	if c.PretrainSteps > 0 {
		fmt.Fprintf(&b, "/pt=%d", c.PretrainSteps)
	}
	fmt.Fprintf(&b, "/rep=%d/seed=%d/%s", c.Replicate, c.EnvSeed, c.Method)
	return b.String()
}

// Group is the facet of a report a cell belongs to: one figure per group.
func (c Cell) Group() string {
	switch {
	case c.Truth == "rossmann" && c.PoissonObs:
		return fmt.Sprintf("N~Poisson(%d)", c.N)
	case c.Truth == "rossmann":
		return fmt.Sprintf("N=%d", c.N)
	case c.noiseAxis || variesNoise(c.Experiment):
		return fmt.Sprintf("noise=%s", strconv.FormatFloat(c.Noise, 'g', -1, 64))
	}
	return fmt.Sprintf("n=%d", c.N)
}

// variesNoise reports whether the named built-in experiment varies noise
// along its axis; cells read back from raw files know only the name.
func variesNoise(name string) bool {
	e, err := Lookup(name)
	return err == nil && e.X == "noise"
}

func needsFinetune(method string) bool {
	method = strings.TrimSuffix(method, baseline.BinUnitsSuffix)
	method, _, _ = strings.Cut(method, "@")
	return method == "transformer-finetuned" || method == "transformer-scratch" || method == "no-pretraining"
}

// Cells expands the experiment: every configuration, replicate and method,
// in a fixed order (the order shards slice). seeds > 0 overrides the grid's
// number of replicates; baseSeed enters every environment seed.
func (e *Experiment) Cells(quick bool, seeds int, baseSeed uint64) []Cell {
	g := e.Full
	if quick {
		g = e.Quick
	}
	if seeds <= 0 {
		seeds = g.Seeds
	}
	noise := g.Noise
	if len(noise) == 0 {
		noise = []float64{0}
	}
	pois := g.PoissonObs
	if len(pois) == 0 {
		pois = []bool{false}
	}
	var cells []Cell
	for _, ps := range pois {
		for _, n := range g.Obs {
			for _, nz := range noise {
				for _, k := range g.Instances {
					for rep := range seeds {
						base := Cell{Experiment: e.Name, Quick: quick, Truth: e.Truth, Model: e.Model, K: k, N: n,
							Noise: nz, PoissonObs: ps, Replicate: rep, PretrainSteps: g.PretrainSteps, noiseAxis: e.X == "noise"}
						base.EnvSeed = envSeed(baseSeed, base)
						for _, m := range g.Methods {
							if needsFinetune(m) && g.FinetuneMaxK > 0 && k > g.FinetuneMaxK {
								continue
							}
							c := base
							c.Method = m
							if needsFinetune(m) {
								c.FinetuneSteps = g.FinetuneSteps
							}
							cells = append(cells, c)
						}
					}
				}
			}
		}
	}
	return cells
}

// envSeed derives a replicate's environment seed from the base seed, the
// experiment, the truth and n, and not from the method, K or the noise
// level: common random numbers. Every method of a replicate sees the same
// portfolio, and replicate r has the same environment hyperparameters at
// every K (a smaller portfolio is the first products of a larger one, as
// prior.Generate draws products in order) and every noise level, so
// differences along a figure's axis are not differences between drawn
// environments.
func envSeed(base uint64, c Cell) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s|%d|%v|%d", base, c.Experiment, c.Truth, c.N, c.PoissonObs, c.Replicate)
	return h.Sum64() >> 1 // keep it exact in JSON readers that use float64
}

// Shard returns the cells of shard i of n (1-based): every n-th cell,
// starting at the i-th, so shards have similar mixes of cheap and costly
// cells.
func Shard(cells []Cell, i, n int) []Cell {
	var out []Cell
	for j, c := range cells {
		if j%n == i-1 {
			out = append(out, c)
		}
	}
	return out
}

// All lists the experiments in order.
func All() []*Experiment {
	baselines := []string{"saa", "pooled-saa", "shrunken-saa", "shrunken-saa-additive", "eb", "eb-log", "npmle", "npmle-log"}
	return []*Experiment{
		{
			Name: "E1", Title: "In-prior regret against K (normal-normal prior, its pretrained model)",
			Truth: "normal-normal", Model: "normal-normal", Metric: Regret, X: "K", Theory: TheoryPretraining,
			Full: Grid{Instances: []int{10, 30, 100, 300, 1000}, Obs: []int{2, 5, 10},
				Methods: append(slices.Clone(baselines), "eb-censored", "bayes", "transformer"), Seeds: 10},
			Quick: Grid{Instances: []int{10, 100}, Obs: []int{2, 5},
				Methods: append(slices.Clone(baselines), "eb-censored", "bayes", "transformer"), Seeds: 2},
		},
		{
			Name: "E2", Title: "Misspecified truth (heavy-tailed demand): pretrained only, scratch, pretrain+finetune and baselines against K",
			Truth: "truth-heavy-tail", Model: "default", Metric: Regret, X: "K", Theory: TheoryBound,
			Full: Grid{Instances: []int{10, 30, 100, 300, 1000}, Obs: []int{5},
				Methods: []string{"saa", "shrunken-saa", "shrunken-saa-additive", "eb", "eb-log", "npmle", "npmle-log", "transformer", "transformer-scratch", "transformer-finetuned"},
				Seeds:   3, FinetuneSteps: 100},
			Quick: Grid{Instances: []int{10, 30, 100}, Obs: []int{5},
				Methods: []string{"saa", "shrunken-saa", "shrunken-saa-additive", "eb", "eb-log", "npmle", "npmle-log", "transformer", "transformer-scratch", "transformer-finetuned"},
				Seeds:   2, FinetuneSteps: 10},
		},
		{
			Name: "E3", Title: "Noisy observations: regret against the observation-noise level (sd as a fraction of the product's mean)",
			Truth: "truth-noisy", Model: "default", Metric: Regret, X: "noise",
			Full: Grid{Instances: []int{300}, Obs: []int{5}, Noise: []float64{0, 0.25, 0.5, 1},
				Methods: append(slices.Clone(baselines), "eb-censored", "transformer", "transformer-finetuned"), Seeds: 3, FinetuneSteps: 100},
			Quick: Grid{Instances: []int{100}, Obs: []int{5}, Noise: []float64{0, 0.5},
				Methods: append(slices.Clone(baselines), "eb-censored", "transformer", "transformer-finetuned"), Seeds: 2, FinetuneSteps: 10},
		},
		{
			Name: "E4", Title: "Ablations at equal pretraining budget (mixed-managerial prior)",
			Truth: "mixed-managerial", Model: "default", Metric: Regret, X: "K", Variants: ablations,
			Full: Grid{Instances: []int{100, 1000}, Obs: []int{5},
				Methods: []string{"eb", "eb-censored", "eb-log", "npmle", "npmle-log", "shrunken-saa", "shrunken-saa-additive", "inducing-16", "full-attention", "no-cross-attention", "no-pretraining", "experts-16"},
				Seeds:   3, PretrainSteps: 300, FinetuneSteps: 100},
			Quick: Grid{Instances: []int{50}, Obs: []int{5},
				Methods: []string{"eb", "eb-censored", "eb-log", "npmle", "npmle-log", "shrunken-saa", "shrunken-saa-additive", "inducing-16", "full-attention", "no-cross-attention", "no-pretraining", "experts-16"},
				Seeds:   2, PretrainSteps: 3, FinetuneSteps: 5},
		},
		{
			Name: "E5", Title: "Cost: wall time and peak heap of deciding against K (mixed-managerial prior, pure-Go backend unless GOMLX_BACKEND says otherwise)",
			Truth: "mixed-managerial", Model: "default", Metric: Seconds, X: "K",
			Full: Grid{Instances: []int{100, 1000, 10000, 100000}, Obs: []int{5},
				Methods: append(slices.Clone(baselines), "transformer", "transformer-finetuned"), Seeds: 2, FinetuneSteps: 300, FinetuneMaxK: 1000},
			Quick: Grid{Instances: []int{100, 1000}, Obs: []int{5},
				Methods: append(slices.Clone(baselines), "transformer", "transformer-finetuned"), Seeds: 2, FinetuneSteps: 5, FinetuneMaxK: 100},
		},
		{
			Name: "E6", Title: "Rossmann (Gupta & Kallus): benefit over SAA, s = 0.95",
			Truth: "rossmann", Model: "default", Metric: Benefit, X: "K",
			Full: Grid{Instances: []int{100, 1115}, Obs: []int{10}, PoissonObs: []bool{false, true},
				Methods: []string{"pooled-saa", "shrunken-saa", "shrunken-saa-uniform", "eb", "eb-log", "npmle-log", "npmle+bins", "transformer", "transformer-finetuned",
					"transformer@retail-daily", "transformer-finetuned@retail-daily", "transformer+bins", "transformer-finetuned+bins"},
				Seeds: 3, FinetuneSteps: 100},
			Quick: Grid{Instances: []int{100}, Obs: []int{10},
				Methods: []string{"pooled-saa", "shrunken-saa", "eb", "eb-log", "npmle-log", "npmle+bins", "transformer", "transformer-finetuned",
					"transformer@retail-daily", "transformer-finetuned@retail-daily", "transformer+bins", "transformer-finetuned+bins"},
				Seeds: 2, FinetuneSteps: 5},
		},
	}
}

// Lookup returns the experiment called name (E1 to E6, any case).
func Lookup(name string) (*Experiment, error) {
	for _, e := range All() {
		if strings.EqualFold(e.Name, name) {
			return e, nil
		}
	}
	var names []string
	for _, e := range All() {
		names = append(names, e.Name)
	}
	return nil, fmt.Errorf("unknown experiment %q (want one of %s)", name, strings.Join(names, ", "))
}
