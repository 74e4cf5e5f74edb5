package train

import (
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
)

// TestTrainingStepsDoNotDeadlock runs many training steps of the real model
// on the backend's default configuration within a deadline. GoMLX v0.26.0's
// pure-Go worker pool can deadlock when several DotGenerals run in parallel
// (go:ops_parallel hangs the reference step here on 2 cores); the default
// go:ops_sequential must not. CI runs it under -race.
func TestTrainingStepsDoNotDeadlock(t *testing.T) {
	steps, deadline := 40, 4*time.Minute
	if testing.Short() {
		steps = 5
	}
	p, _ := prior.Lookup("normal-normal")
	o := DefaultOptions(p)
	o.Batch, o.Instances, o.Obs = 4, prior.IntRange{Min: 16, Max: 48}, prior.IntRange{Min: 8, Max: 8}
	m, err := model.New(model.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for step := range steps {
			envs, err := o.Environments(step)
			if err == nil {
				_, err = tr.Step(envs, 1e-3, padInstances(envs[0].Portfolio.Len()), 8)
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(deadline):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("%d training steps did not finish within %s: deadlock?", steps, deadline)
	}
}
