// Command ptft is the command-line face of the ptft workbench: simulate
// synthetic portfolios from named priors, decide order quantities with any
// method, evaluate decisions on exact expected cost, and run the Rossmann
// data-pooling benchmark.
//
// Usage:
//
//	ptft simulate --prior NAME --instances K --obs n --seed S --out obs.csv [--truth truth.json]
//	ptft decide   --data obs.csv [--critical-ratio 0.8] --method saa|pooled-saa|shrunken-saa|eb --out decisions.csv
//	ptft evaluate --truth truth.json --decisions decisions.csv[,more.csv] [--json]
//	ptft pretrain --prior NAME --steps S --out DIR [--resume] [--seed S]
//	ptft finetune --model DIR --data obs.csv --out DIR2 [--params all|head|adapters] [--steps] [--seed]
//	ptft ensemble --members DIR1,DIR2[,...] --out DIR
//	ptft compare  --prior NAME --instances K --obs n --seed S
//	ptft quality  --prior normal-normal --model DIR --instances 100,1000 --obs 3,5,10
//	ptft run      E1|E2|...|E6 [--quick] [--shard i/n] [--seeds S]
//	ptft report   [E1 ...] [--quick] [--merge]
//	ptft kernel install
//	ptft rossmann [--data DIR] --instances K --obs N --runs R --seed S [--poisson-obs] [--json]
//	ptft priors
//
// Every command exits non-zero with one error line naming the file, line and
// instance on bad input, and never leaves a partial output file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ptft-lab/ptft/experiments"
	"github.com/ptft-lab/ptft/results/models"
	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

type command struct {
	name, summary string
	run           func(args []string, stdout io.Writer) error
}

var commands = []command{
	{"simulate", "draw a synthetic portfolio from a prior: observations CSV and truth JSON", runSimulate},
	{"decide", "decide one order quantity per instance from an observations CSV", runDecide},
	{"evaluate", "exact expected cost, oracle cost and relative regret of decisions", runEvaluate},
	{"pretrain", "pretrain the Transformer on synthetic environments from a prior", runPretrain},
	{"finetune", "finetune a model on real observations (loss from held-out points)", runFinetune},
	{"ensemble", "combine pretrained models into one that decides their mean order", runEnsemble},
	{"compare", "simulate a portfolio and print every method's regret (the main job)", runCompare},
	{"quality", "regret and excess over Bayes and EB on a grid of K and n (in-prior quality table)", runQuality},
	{"rossmann", "Gupta & Kallus's Rossmann data-pooling benchmark for the classical methods", runRossmann},
	{"suite", "the benchmark suite: every method on named portfolio families (normal, counts, intermittent, heavy tails, mixtures, gross errors, constants)", runSuite},
	{"run", "run an experiment sweep (E1 to E6), resumable and shardable", runRun},
	{"report", "turn raw experiment results into tables and figures", runReport},
	{"kernel", "register the GoNB Jupyter kernel wired to this repository (kernel install)", runKernel},
	{"priors", "list the built-in priors", runPriors},
}

// helpOut receives -h text (tests capture it).
var helpOut io.Writer = os.Stderr

// summary returns a command's one-line description (set in init: the
// command table refers to the commands, which call parse).
var summary func(name string) string

func init() {
	summary = func(name string) string {
		for _, c := range commands {
			if c.name == name {
				return c.summary
			}
		}
		return ""
	}
}

// helpDetails add to a command's -h text.
var helpDetails = map[string]func() string{
	"decide":   methodHelp,
	"compare":  methodHelp,
	"rossmann": methodHelp,
}

// methodHelp lists every method name decide, compare and rossmann take.
func methodHelp() string {
	return fmt.Sprintf(`Methods: %s, eb-normal (= eb), eb-ml, eb-censored, eb-gamma-poisson, eb-gamma-poisson-ml,
%s.
A Transformer method may name its model after @: a shipped model (%s) or a
model folder, e.g. transformer@retail-daily or transformer-finetuned@./my-model.
Any method takes the suffix +bins on data with a per-instance support (the
Rossmann stores' bins): it then decides in each instance's bin units, e.g.
transformer-finetuned+bins.`, strings.Join(baseline.Methods, ", "), strings.Join(experiments.TransformerMethods, ", "), strings.Join(models.Names, ", "))
}

// errUsage marks errors that are the caller's invocation, exit status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				fmt.Fprintf(stderr, "ptft %s: %v\n", c.name, err)
				return 2
			}
			fmt.Fprintf(stderr, "ptft %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "ptft: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ptft <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'ptft <command> -h' for a command's flags.")
}

// parse parses flags and rejects positional arguments. -h prints the
// command's usage line, what it does, and its flags.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(helpOut)
			fmt.Fprintf(helpOut, "usage: ptft %s [flags]\n\n", fs.Name())
			if sum := summary(fs.Name()); sum != "" {
				fmt.Fprintf(helpOut, "%s.\n", strings.ToUpper(sum[:1])+sum[1:])
			}
			if more := helpDetails[fs.Name()]; more != nil {
				fmt.Fprintf(helpOut, "\n%s\n", more())
			}
			fmt.Fprintln(helpOut, "\nflags:")
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// required reports the first empty required string flag.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			return fmt.Errorf("%w: --%s is required", errUsage, n)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// emit writes what print produces to path (atomically) when path is set,
// else to stdout.
func emit(path string, stdout io.Writer, print func(io.Writer) error) error {
	if path == "" {
		return print(stdout)
	}
	if err := data.WriteFileAtomic(path, print); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
