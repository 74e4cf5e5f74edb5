package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/ptft-lab/ptft/experiments"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/train"
)

func runPretrain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	priorName := fs.String("prior", "", "built-in prior name or a prior JSON file")
	out := fs.String("out", "", "model folder to write (checkpoints land here too)")
	resume := fs.Bool("resume", false, "continue the run whose last checkpoint is in --out")
	def := model.DefaultConfig()
	steps := fs.Int("steps", 1500, "training steps")
	seed := fs.Uint64("seed", 1, "seed of the initial weights and of the synthetic data")
	batch := fs.Int("batch", 16, "environments per step")
	instances := fs.String("instances", "16-128", "range of K, drawn per step")
	obs := fs.String("obs", "", "range of n_k (default: the prior's)")
	obsPerEnv := fs.Bool("obs-per-env", false, "draw a sub-range of n_k per environment, so portfolios with one n for every instance occur in training")
	lr := fs.Float64("lr", 1e-3, "peak learning rate (linear warm-up, cosine decay)")
	warmup := fs.Int("warmup", 100, "warm-up steps")
	every := fs.Int("checkpoint-every", 100, "steps between checkpoints")
	width := fs.Int("width", def.Width, "model width")
	blocks := fs.Int("blocks", def.Blocks, "cross-instance blocks")
	heads := fs.Int("heads", def.Heads, "attention heads")
	inducing := fs.Int("inducing", 0, "inducing points per block (0: full attention)")
	experts := fs.Bool("experts", false, "the experts layout: robust statistics, and a head mixing classical decisions")
	quiet := fs.Bool("quiet", false, "no progress display")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "prior", "out"); err != nil {
		return err
	}
	p, err := prior.Lookup(*priorName)
	if err != nil {
		return err
	}
	opts := train.DefaultOptions(p)
	opts.Steps, opts.Batch, opts.Seed, opts.LearningRate, opts.Warmup, opts.CheckpointEvery, opts.Dir =
		*steps, *batch, *seed, *lr, *warmup, *every, *out
	opts.ObsPerEnvironment = *obsPerEnv
	if opts.Instances, err = parseIntRange(*instances); err != nil {
		return fmt.Errorf("%w: --instances: %v", errUsage, err)
	}
	if *obs != "" {
		if opts.Obs, err = parseIntRange(*obs); err != nil {
			return fmt.Errorf("%w: --obs: %v", errUsage, err)
		}
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg := model.Config{Width: *width, Blocks: *blocks, Heads: *heads, MLPRatio: def.MLPRatio, Inducing: *inducing, Experts: *experts}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if !*quiet {
		opts.ProgressBar = true
	}
	_, statErr := os.Stat(filepath.Join(*out, model.MetaFile))
	var m *model.Model
	switch {
	case *resume:
		if m, err = model.Load(*out); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if m.Meta.Prior != p.Name || m.Meta.Seed != *seed {
			return fmt.Errorf("--resume: %s was trained on prior %q with seed %d, not %q with seed %d",
				*out, m.Meta.Prior, m.Meta.Seed, p.Name, *seed)
		}
	case statErr == nil:
		return fmt.Errorf("%s already holds a model: pass --resume to continue it, or choose another --out", *out)
	default:
		if m, err = model.New(cfg, *seed); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := train.Pretrain(ctx, m, opts); err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted at step %d+; the last checkpoint in %s resumes with --resume", m.Meta.Steps, *out)
		}
		return err
	}
	if loss, err := train.ReadCurve(filepath.Join(*out, train.CurveFile)); err == nil {
		title := fmt.Sprintf("pretraining on %s (seed %d)", p.Name, *seed)
		if err := experiments.WriteCurveSVG(filepath.Join(*out, "loss.svg"), title, loss); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "pretrained %d steps on %s v%s (seed %d, backend %s): final loss %.4f -> %s\n",
		m.Meta.Steps, p.Name, p.Version, *seed, m.Meta.Backend, m.Meta.FinalLoss, *out)
	return nil
}
