package experiments

import (
	stdcontext "context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ptft-lab/ptft/workbench/backend"
	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
	"github.com/ptft-lab/ptft/workbench/rossmann"
	"github.com/ptft-lab/ptft/workbench/train"
)

// executor runs cells, keeping what several cells share: the last
// environment, loaded pretrained models, the Rossmann data.
type executor struct {
	exp      *Experiment
	dir      string // raw results folder; ablation models are cached below it
	log      io.Writer
	baseSeed uint64
	envKey   string
	env      *prior.Environment
	models   map[string]*model.Model
	rossmann *rossmann.Data
}

func (x *executor) run(ctx stdcontext.Context, c Cell) (Record, error) {
	if c.Truth == "rossmann" {
		return x.runRossmann(ctx, c)
	}
	env, err := x.environment(c)
	if err != nil {
		return Record{}, err
	}
	pol, err := x.policy(ctx, c, env)
	if err != nil {
		return Record{}, err
	}
	var q []float64
	secs, peak, err := measure(func() error {
		var err error
		q, err = baseline.Decide(pol, env.Portfolio)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("%s: %s: %w", c.Key(), pol.Name(), err)
	}
	rep, err := problem.Evaluate(problem.Newsvendor{}, env.Truth, env.Portfolio.Ratios, q)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", c.Key(), err)
	}
	r := x.record(c, pol)
	r.Cost, r.OracleCost, r.Regret = rep.Cost, rep.OracleCost, rep.Regret
	r.Seconds, r.PeakHeapMiB = secs, peak
	r.Value = rep.Regret
	if x.exp.Metric == Seconds {
		r.Value = secs
	}
	return r, nil
}

func (x *executor) record(c Cell, pol baseline.Policy) Record {
	r := Record{Key: c.Key(), Cell: c, BaseSeed: x.baseSeed, Version: provenance.CodeVersion(),
		GoVersion: runtime.Version(), Backend: "none"}
	switch p := unwrap(pol).(type) {
	case *model.Model:
		r.Backend = backend.Name()
	case *train.FinetunedPolicy:
		r.Backend = backend.Name()
		if p.Last != nil {
			r.FinetuneSteps, r.BestStep = p.Last.Steps, p.Last.BestStep
		}
	}
	return r
}

// environment draws (or reuses) the cell's environment.
func (x *executor) environment(c Cell) (*prior.Environment, error) {
	key := fmt.Sprintf("%s|%d|%d|%g|%d", c.Truth, c.K, c.N, c.Noise, c.EnvSeed)
	if key == x.envKey {
		return x.env, nil
	}
	p, err := prior.Lookup(c.Truth)
	if err != nil {
		return nil, err
	}
	if x.exp.X == "noise" {
		p.Noise = prior.Fixed(c.Noise)
	}
	env, err := p.Generate(c.EnvSeed, prior.Options{Instances: c.K, Obs: prior.IntRange{Min: c.N, Max: c.N}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	x.envKey, x.env = key, env
	return env, nil
}

// policy returns the cell's method: one of the experiment's own variants
// (E4's architectures), else a name for Method; env is nil where the truth
// is not a prior (Rossmann), which rules out bayes and oracle.
func (x *executor) policy(ctx stdcontext.Context, c Cell, env *prior.Environment) (baseline.Policy, error) {
	if v, ok := x.exp.Variants[c.Method]; ok {
		if !v.Pretrained {
			return &train.FinetunedPolicy{Config: v.Config, Options: finetuneOptions(c.FinetuneSteps, c.EnvSeed)}, nil
		}
		return x.pretrainedVariant(ctx, c, v.Config)
	}
	pol, err := Method(c.Method, MethodOptions{Model: c.Model, FinetuneSteps: c.FinetuneSteps, Seed: c.EnvSeed,
		Env: env, Rossmann: x.rossmann, Models: x.models})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	return pol, nil
}

// pretrainedVariant returns an E4 variant pretrained on the cell's prior
// for c.PretrainSteps steps, from the cache folder below the raw results
// (pretraining it, or resuming its last checkpoint, when needed).
func (x *executor) pretrainedVariant(ctx stdcontext.Context, c Cell, cfg model.Config) (*model.Model, error) {
	dir := filepath.Join(x.dir, "models", fmt.Sprintf("%s-%s-pt%d-seed%d", rawBase(c.Experiment, c.Quick), c.Method, c.PretrainSteps, x.baseSeed))
	if m, ok := x.models[dir]; ok {
		return m, nil
	}
	p, err := prior.Lookup(c.Truth)
	if err != nil {
		return nil, err
	}
	opts := train.DefaultOptions(p)
	opts.Steps, opts.Seed, opts.Dir = c.PretrainSteps, x.baseSeed, dir
	opts.Warmup = min(opts.Warmup, c.PretrainSteps/5)
	var m *model.Model
	if _, err := os.Stat(filepath.Join(dir, model.MetaFile)); err == nil {
		if m, err = model.Load(dir); err != nil {
			return nil, err
		}
	} else if m, err = model.New(cfg, x.baseSeed); err != nil {
		return nil, err
	}
	if m.Meta.Steps < c.PretrainSteps {
		fmt.Fprintf(x.log, "pretraining %s for %d steps into %s\n", c.Method, c.PretrainSteps, dir)
		if err := train.Pretrain(ctx, m, opts); err != nil {
			return nil, fmt.Errorf("pretraining %s: %w", c.Method, err)
		}
	}
	x.models[dir] = m
	return m, nil
}

// runRossmann runs one replicate of Gupta & Kallus's benchmark for one
// method against SAA.
func (x *executor) runRossmann(ctx stdcontext.Context, c Cell) (Record, error) {
	if x.rossmann == nil {
		dir, err := rossmann.ResolveDir("")
		if err != nil {
			return Record{}, err
		}
		if x.rossmann, err = rossmann.Load(dir); err != nil {
			return Record{}, err
		}
	}
	pol, err := x.policy(ctx, c, nil)
	if err != nil {
		return Record{}, err
	}
	cfg := rossmann.Config{Instances: c.K, Obs: c.N, PoissonObs: c.PoissonObs, Runs: 1, Ratio: 0.95, Seed: c.EnvSeed}
	var res *rossmann.Result
	_, peak, err := measure(func() error {
		var err error
		res, err = rossmann.Run(x.rossmann, cfg, []baseline.Policy{baseline.SAA{}, pol})
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", c.Key(), err)
	}
	r := x.record(c, pol)
	for _, row := range res.Rows {
		switch row.Method {
		case pol.Name():
			r.Value, r.Cost, r.Seconds = row.Benefit, row.Cost, row.Seconds
		case "oracle":
			r.OracleCost = row.Cost
		}
	}
	if r.OracleCost > 0 {
		r.Regret = r.Cost/r.OracleCost - 1
	}
	r.PeakHeapMiB = peak
	return r, nil
}

// writeRaw appends line to the raw file whose current content is old,
// atomically (temporary file and rename), so a killed run never leaves a
// partial line.
func writeRaw(path string, old, line []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return data.WriteFileAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(old); err != nil {
			return err
		}
		_, err := w.Write(line)
		return err
	})
}
