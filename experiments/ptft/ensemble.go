package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ptft-lab/ptft/experiments"
	"github.com/ptft-lab/ptft/workbench/model"
)

func runEnsemble(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ensemble", flag.ContinueOnError)
	members := fs.String("members", "", "comma-separated pretrained models (folders or shipped names) of one architecture, e.g. ./seed-1,./seed-2")
	out := fs.String("out", "", "model folder to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "members", "out"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*out, model.MetaFile)); err == nil {
		return fmt.Errorf("%s already holds a model: choose another --out", *out)
	}
	var ms []*model.Model
	for _, ref := range splitList(*members) {
		m, err := experiments.LoadModel(ref)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	e, err := model.Ensemble(ms...)
	if err != nil {
		return fmt.Errorf("%w: --members: %v", errUsage, err)
	}
	if err := e.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ensemble of %d models (seeds", len(ms))
	for _, r := range e.Meta.Members {
		fmt.Fprintf(stdout, " %d", r.Seed)
	}
	fmt.Fprintf(stdout, ") -> %s\n", *out)
	return nil
}
