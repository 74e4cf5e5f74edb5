package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ptft-lab/ptft/experiments"
	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

func runDecide(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("decide", flag.ContinueOnError)
	in := fs.String("data", "", "observations CSV (instance,value[,critical_ratio])")
	ratio := fs.Float64("critical-ratio", 0, "critical ratio for instances without a critical_ratio column")
	method := fs.String("method", "", "the method (see the list above)")
	out := fs.String("out", "", "decisions CSV to write (instance,quantity)")
	bins := fs.Int("bins", baseline.DefaultBins, "shrunken-saa: common-support size for continuous data")
	modelDir := fs.String("model", "", "transformer: model folder (default: the shipped results/models/default)")
	support := fs.String("support", "", "support CSV (instance,value: each instance's known support points, e.g. its bins); enables the +bins methods and Shrunken-SAA on that support")
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
	if *support != "" {
		if err := data.ReadSupportFile(*support, p); err != nil {
			return err
		}
	}
	read := time.Since(start)
	q, err := baseline.Decide(pol, p)
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

// policies resolves method names (a --methods list, split).
func policies(names []string, modelDir string) ([]baseline.Policy, error) {
	pols, err := experiments.Methods(names, experiments.MethodOptions{Model: modelDir})
	if errors.Is(err, baseline.ErrUnknownMethod) {
		return nil, fmt.Errorf("%w: --methods: %v", errUsage, err)
	}
	return pols, err
}

// policyByName returns a classical policy, or the Transformer loaded from
// modelDir (a folder or a shipped model's name; the shipped default when
// empty).
func policyByName(name string, bins int, modelDir string) (baseline.Policy, error) {
	if bins < 1 {
		return nil, fmt.Errorf("%w: --bins %d must be >= 1", errUsage, bins)
	}
	pol, err := experiments.Method(name, experiments.MethodOptions{Model: modelDir, Bins: bins})
	if errors.Is(err, baseline.ErrUnknownMethod) {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return pol, err
}
