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
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/train"
)

func runFinetune(args []string, stdout io.Writer) error {
	def := train.DefaultFinetuneOptions()
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	modelDir := fs.String("model", "", "pretrained model folder (default: the shipped model)")
	scratch := fs.Bool("scratch", false, "start from random weights instead of a pretrained model")
	in := fs.String("data", "", "observations CSV")
	ratio := fs.Float64("critical-ratio", 0, "critical ratio for instances without a critical_ratio column")
	out := fs.String("out", "", "folder for the finetuned model")
	params := fs.String("params", def.Params, "parameters to finetune: all, head (head and last block) or adapters (low-rank)")
	rank := fs.Int("adapter-rank", def.AdapterRank, "rank of the adapters (--params adapters)")
	steps := fs.Int("steps", def.Steps, "maximum finetuning steps")
	splits := fs.Int("splits", def.Splits, "random context/held-out splits per step")
	pool := fs.Int("split-pool", def.SplitPool, "steps' worth of splits drawn once and cycled through (0: fresh splits every step)")
	loo := fs.Bool("loo", def.LeaveOneOut, "hold out one observation per instance (leave-one-out); --loo=false holds out 10-40%")
	lr := fs.Float64("lr", def.LearningRate, "learning rate (Adam)")
	valFrac := fs.Float64("val-fraction", def.ValFraction, "fraction of instances held out for early stopping")
	patience := fs.Int("patience", def.Patience, "evaluations without improvement before stopping (0: never stop early)")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	quiet := fs.Bool("quiet", false, "no progress display")
	every := fs.Int("checkpoint-every", 50, "steps between checkpoints in --out/checkpoint (0: none)")
	resume := fs.Bool("resume", false, "continue the run whose checkpoint is in --out/checkpoint")
	support := fs.String("support", "", "support CSV (instance,value): finetune in each instance's bin units, weighing held-out costs by bin width (the +bins methods' finetuning)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "out"); err != nil {
		return err
	}
	o := train.FinetuneOptions{Steps: *steps, Splits: *splits, SplitPool: *pool, LeaveOneOut: *loo, Params: *params, AdapterRank: *rank,
		LearningRate: *lr, ValFraction: *valFrac, EvalEvery: def.EvalEvery, Patience: *patience, Seed: *seed,
		Dir: *out, CheckpointEvery: *every, Resume: *resume}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *every < 0 {
		return fmt.Errorf("%w: --checkpoint-every %d must not be negative", errUsage, *every)
	}
	if *ratio != 0 {
		if err := data.CheckRatio(*ratio); err != nil {
			return fmt.Errorf("%w: --critical-ratio: %v", errUsage, err)
		}
	}
	if _, err := os.Stat(filepath.Join(*out, model.MetaFile)); err == nil {
		return fmt.Errorf("%s already holds a model; choose another --out", *out)
	}
	ckpt := filepath.Join(*out, train.CheckpointDir)
	_, ckptErr := os.Stat(filepath.Join(ckpt, model.MetaFile))
	if ckptErr == nil && !*resume {
		return fmt.Errorf("%s holds a checkpoint of an interrupted run: pass --resume to continue it, or choose another --out", *out)
	}
	p, err := data.ReadObservationsFile(*in, *ratio)
	if err != nil {
		return err
	}
	if *support != "" {
		if err := data.ReadSupportFile(*support, p); err != nil {
			return err
		}
		if p, _, _, err = p.BinUnits(); err != nil {
			return err
		}
	}
	var m *model.Model
	switch {
	case *resume:
		if m, err = model.Load(ckpt); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
	case *scratch:
		m, err = model.New(model.DefaultConfig(), *seed)
	default:
		m, err = experiments.LoadModel(*modelDir)
	}
	if err != nil {
		return err
	}
	if !*quiet {
		o.ProgressBar = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := train.Finetune(ctx, m, p, o)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; the last checkpoint in %s resumes with --resume", ckpt)
	}
	if err != nil {
		return err
	}
	m.Meta.Extra = map[string]float64{"finetune_steps": float64(res.Steps), "finetune_best_step": float64(res.BestStep),
		"finetune_validation_cost": res.BestVal, "finetune_start_validation_cost": res.StartVal}
	if err := m.Save(*out); err != nil {
		return err
	}
	if err := os.RemoveAll(ckpt); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "finetuned %s (%d trainable variables) on %s: %d steps, best at %d, validation cost %.5g -> %.5g; saved %s\n",
		*params, res.Trainable, *in, res.Steps, res.BestStep, res.StartVal, res.BestVal, *out)
	return nil
}
