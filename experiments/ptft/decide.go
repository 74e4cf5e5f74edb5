package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ptft-lab/ptft/results/models"
	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/train"
)

func runDecide(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("decide", flag.ContinueOnError)
	in := fs.String("data", "", "observations CSV (instance,value[,critical_ratio])")
	ratio := fs.Float64("critical-ratio", 0, "critical ratio for instances without a critical_ratio column")
	method := fs.String("method", "", fmt.Sprintf("one of %v, transformer, transformer-finetuned, transformer-scratch (also eb-gamma-poisson, eb-ml)", baseline.Methods))
	out := fs.String("out", "", "decisions CSV to write (instance,quantity)")
	bins := fs.Int("bins", baseline.DefaultBins, "shrunken-saa: common-support size for continuous data")
	modelDir := fs.String("model", "", "transformer: model folder (default: the shipped results/models/default)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "method", "out"); err != nil {
		return err
	}
	if *ratio != 0 {
		if err := data.CheckRatio(*ratio); err != nil {
			return fmt.Errorf("%w: --critical-ratio: %v", errUsage, err)
		}
	}
	pol, err := policyByName(*method, *bins, *modelDir)
	if err != nil {
		return err
	}
	start := time.Now()
	p, err := data.ReadObservationsFile(*in, *ratio)
	if err != nil {
		return err
	}
	read := time.Since(start)
	q, err := pol.Decide(p)
	if err != nil {
		return err
	}
	decided := time.Since(start) - read
	if err := data.WriteDecisionsFile(*out, p.IDs, q); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d instances, %d observations: read %.2fs, decided %.2fs, peak RSS %s\n",
		pol.Name(), p.Len(), p.NumObs(), read.Seconds(), decided.Seconds(), peakRSS())
	fmt.Fprintf(stdout, "%s -> %s\n", pol.Name(), *out)
	return nil
}

// loadModel loads a model folder, or the shipped model when dir is empty.
func loadModel(dir string) (*model.Model, error) {
	if dir == "" {
		return models.Default()
	}
	return model.Load(dir)
}

// policies resolves a comma-separated list of method names.
func policies(list string, modelDir string) ([]baseline.Policy, error) {
	var pols []baseline.Policy
	for _, m := range splitList(list) {
		pol, err := policyByName(m, baseline.DefaultBins, modelDir)
		if err != nil {
			return nil, fmt.Errorf("--methods: %w", err)
		}
		pols = append(pols, pol)
	}
	return pols, nil
}

// policyByName returns a classical policy, or the Transformer loaded from
// modelDir (the embedded default model when empty).
func policyByName(name string, bins int, modelDir string) (baseline.Policy, error) {
	switch name {
	case "transformer":
		return loadModel(modelDir)
	case "transformer-finetuned":
		return &train.FinetunedPolicy{Base: func() (*model.Model, error) { return loadModel(modelDir) },
			Options: train.DefaultFinetuneOptions()}, nil
	case "transformer-scratch":
		return &train.FinetunedPolicy{Config: model.DefaultConfig(), Options: train.DefaultFinetuneOptions()}, nil
	case "eb-ml":
		return baseline.EmpiricalBayes{Method: baseline.MarginalLikelihood}, nil
	case "eb-gamma-poisson-ml":
		return baseline.EmpiricalBayes{Family: baseline.GammaPoissonFamily, Method: baseline.MarginalLikelihood}, nil
	}
	pol, err := baseline.ByName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (or transformer)", errUsage, err)
	}
	if s, ok := pol.(*baseline.ShrunkenSAA); ok {
		if bins < 1 {
			return nil, fmt.Errorf("--bins %d must be >= 1", bins)
		}
		s.Bins = bins
	}
	return pol, nil
}
