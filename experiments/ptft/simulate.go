package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

func runSimulate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	priorName := fs.String("prior", "", "built-in prior name (see 'ptft priors') or a prior JSON file")
	instances := fs.Int("instances", 0, "number of instances K (0: draw from the prior's range)")
	obs := fs.String("obs", "", "observations per instance: n, or a range min-max drawn per instance (default: the prior's range)")
	seed := fs.Uint64("seed", 1, "random seed")
	ratio := fs.Float64("critical-ratio", 0, "fix the critical ratio (0: draw from the prior's range)")
	out := fs.String("out", "", "observations CSV to write")
	truth := fs.String("truth", "", "truth JSON to write (true distributions)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "prior", "out"); err != nil {
		return err
	}
	if *instances < 0 {
		return fmt.Errorf("%w: --instances %d must be positive (or 0: drawn from the prior's range)", errUsage, *instances)
	}
	p, err := prior.Lookup(*priorName)
	if err != nil {
		return err
	}
	o := prior.Options{Instances: *instances, Ratio: *ratio}
	if *obs != "" {
		if o.Obs, err = parseIntRange(*obs); err != nil {
			return fmt.Errorf("%w: --obs: %v", errUsage, err)
		}
	}
	env, err := p.Generate(*seed, o)
	if err != nil {
		return err
	}
	if *truth == "" {
		if err := data.WriteObservationsFile(*out, env.Portfolio); err != nil {
			return err
		}
	} else {
		// One pair: a kill leaves both old files or (after the next run)
		// both new ones, and the truth file records the CSV's digest.
		prov := provenance.New("simulate --prior "+p.Name, *seed, "none")
		if err := data.WriteObservationsAndTruth(*out, env.Portfolio, *truth, env.TruthFile(problem.Newsvendor{}.Name(), prov)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "simulated prior %s v%s seed %d: %d instances, %d observations -> %s\n",
		p.Name, p.Version, *seed, env.Portfolio.Len(), env.Portfolio.NumObs(), *out)
	return nil
}

func parseIntRange(s string) (prior.IntRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return prior.IntRange{}, fmt.Errorf("%q is not n or min-max", s)
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return prior.IntRange{}, fmt.Errorf("%q is not n or min-max", s)
		}
	}
	if a < 1 || b < a {
		return prior.IntRange{}, fmt.Errorf("%q: need 1 <= min <= max", s)
	}
	return prior.IntRange{Min: a, Max: b}, nil
}

func runPriors(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("priors", flag.ContinueOnError)
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, p := range prior.Builtin() {
		fmt.Fprintf(stdout, "%-20s v%s  %s\n", p.Name, p.Version, p.Description)
	}
	return nil
}
