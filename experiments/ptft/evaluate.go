package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ptft-lab/ptft/experiments"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/problem"
)

type evalRow struct {
	Decisions string `json:"decisions"`
	problem.Report
}

func runEvaluate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	truthPath := fs.String("truth", "", "truth JSON written by 'ptft simulate --truth'")
	decisions := fs.String("decisions", "", "decisions CSV, or several separated by commas")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	obsPath := fs.String("data", "", "the observations CSV written with the truth file (default: the one it names, beside it); checked against the truth file's digest")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "truth", "decisions"); err != nil {
		return err
	}
	truth, ds, err := data.ReadTruthFile(*truthPath)
	if err != nil {
		return err
	}
	if err := truth.CheckObservations(*truthPath, *obsPath); err != nil {
		return err
	}
	ratios := make([]float64, len(ds))
	for i, in := range truth.Instances {
		ratios[i] = in.Ratio
	}
	var rows []evalRow
	for _, path := range splitList(*decisions) {
		byID, ids, err := data.ReadDecisionsFile(path)
		if err != nil {
			return err
		}
		q := make([]float64, len(ds))
		for i, in := range truth.Instances {
			v, ok := byID[in.ID]
			if !ok {
				return fmt.Errorf("%s: no decision for instance %q of %s", path, in.ID, *truthPath)
			}
			q[i] = v
		}
		if len(ids) != len(ds) {
			for _, id := range ids {
				if !containsID(truth, id) {
					return fmt.Errorf("%s: instance %q is not in %s", path, id, *truthPath)
				}
			}
		}
		rep, err := problem.Evaluate(problem.Newsvendor{}, ds, ratios, q)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rows = append(rows, evalRow{Decisions: path, Report: rep})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"truth": *truthPath, "prior": truth.Prior, "results": rows})
	}
	t := experiments.NewTable("decisions", "instances", "mean cost", "oracle cost", "relative regret")
	for _, r := range rows {
		name := strings.TrimSuffix(filepath.Base(r.Decisions), ".csv")
		t.Row(name, fmt.Sprint(r.Instances), fmt.Sprintf("%.6g", r.Cost), fmt.Sprintf("%.6g", r.OracleCost), fmt.Sprintf("%.3f%%", 100*r.Regret))
	}
	return t.Write(stdout)
}

func containsID(t *data.TruthFile, id string) bool {
	for _, in := range t.Instances {
		if in.ID == id {
			return true
		}
	}
	return false
}
