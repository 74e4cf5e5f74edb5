package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/ptft-lab/ptft/experiments"
)

// runRun is `ptft run E2 [--quick] [--shard i/n] [--seeds S]`.
func runRun(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "run the experiment's quick grid")
	seeds := fs.Int("seeds", 0, "replicates per configuration (0: the experiment's)")
	seed := fs.Uint64("seed", 1, "base seed of every environment")
	shard := fs.String("shard", "", "run shard i of n (i/n, 1-based), e.g. for a Slurm array or an indexed Job")
	dir := fs.String("dir", "results/raw", "raw results folder")
	maxCells := fs.Int("max-cells", 0, "stop after this many cells (0: all)")
	quiet := fs.Bool("quiet", false, "no per-cell log on standard error")
	name, rest := splitName(args)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("%w: which experiment? (E1 to E6)", errUsage)
	}
	e, err := experiments.Lookup(name)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	o := experiments.RunOptions{Quick: *quick, Seeds: *seeds, Seed: *seed, Dir: *dir, MaxCells: *maxCells, Log: os.Stderr}
	if *quiet {
		o.Log = nil
	}
	if *shard != "" {
		if o.Shard, o.Shards, err = parseShard(*shard); err != nil {
			return fmt.Errorf("%w: --shard: %v", errUsage, err)
		}
	} else if s, n, ok, err := shardFromEnv(); err != nil {
		return err
	} else if ok {
		o.Shard, o.Shards = s, n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := experiments.Run(ctx, e, o)
	if sum != nil {
		fmt.Fprintf(stdout, "%s: %d cells in this shard, %d already done, %d run now (%.0fs) -> %s\n",
			e.Name, sum.Cells, sum.Skipped, sum.Ran, sum.Seconds, sum.Path)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; run the same command again to resume")
	}
	return err
}

// shardFromEnv reads the shard from a Slurm job array
// (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, 0- or 1-based as the array
// says through SLURM_ARRAY_TASK_MIN) or a Kubernetes indexed Job
// (JOB_COMPLETION_INDEX, 0-based, with PTFT_SHARDS giving n).
func shardFromEnv() (int, int, bool, error) {
	atoi := func(name string) (int, error) {
		v, err := strconv.Atoi(os.Getenv(name))
		if err != nil {
			return 0, fmt.Errorf("$%s = %q is not an integer", name, os.Getenv(name))
		}
		return v, nil
	}
	switch {
	case os.Getenv("SLURM_ARRAY_TASK_ID") != "" && os.Getenv("SLURM_ARRAY_TASK_COUNT") != "":
		id, err := atoi("SLURM_ARRAY_TASK_ID")
		if err != nil {
			return 0, 0, false, err
		}
		n, err := atoi("SLURM_ARRAY_TASK_COUNT")
		if err != nil {
			return 0, 0, false, err
		}
		lo := 0
		if os.Getenv("SLURM_ARRAY_TASK_MIN") != "" {
			if lo, err = atoi("SLURM_ARRAY_TASK_MIN"); err != nil {
				return 0, 0, false, err
			}
		}
		return id - lo + 1, n, true, nil
	case os.Getenv("JOB_COMPLETION_INDEX") != "" && os.Getenv("PTFT_SHARDS") != "":
		id, err := atoi("JOB_COMPLETION_INDEX")
		if err != nil {
			return 0, 0, false, err
		}
		n, err := atoi("PTFT_SHARDS")
		if err != nil {
			return 0, 0, false, err
		}
		return id + 1, n, true, nil
	}
	return 0, 0, false, nil
}

func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("%q: want i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// splitName takes a leading positional argument (the experiment) off args.
func splitName(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}
