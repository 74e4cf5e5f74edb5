package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
)

// Checkpoints: a killed run resumes to the same weights.

// CheckpointDir is the folder, inside FinetuneOptions.Dir, of a run's
// checkpoint.
const CheckpointDir = "checkpoint"

// finetuneState is what a checkpoint records besides the weights.
type finetuneState struct {
	Result FinetuneResult `json:"result"`
	Bad    int            `json:"evaluations_without_improvement"`
	// Splits is the state of the random splits' generator.
	Splits []byte `json:"splits_rng"`
	// Run identifies the options and data, so a checkpoint is never
	// resumed under different ones.
	Run string `json:"run"`
	// Data is the digest of the portfolio (data.Portfolio.Digest): values,
	// ratios and support, not only the file name and counts.
	Data string `json:"data_sha256"`
}

func (f *finetuner) runID() string {
	o := f.o
	return fmt.Sprintf("steps=%d splits=%d pool=%d loo=%v params=%s rank=%d lr=%g val=%g every=%d patience=%d seed=%d data=%s K=%d obs=%d",
		o.Steps, o.Splits, o.SplitPool, o.LeaveOneOut, o.Params, o.AdapterRank, o.LearningRate, o.ValFraction, o.EvalEvery, o.Patience, o.Seed,
		f.p.Source, f.p.Len(), f.p.NumObs())
}

// writeCheckpoint saves the current weights (with Adam's state), the best
// weights and the state, each file atomically, state last.
func (f *finetuner) writeCheckpoint(src *rand.PCG, st finetuneState, best map[*context.Variable]*tensors.Tensor) error {
	dir := filepath.Join(f.o.Dir, CheckpointDir)
	if err := f.m.Save(dir); err != nil {
		return err
	}
	current := f.snapshot()
	f.restore(best)
	err := f.m.Save(filepath.Join(dir, "best"))
	f.restore(current)
	if err != nil {
		return err
	}
	if st.Splits, err = src.MarshalBinary(); err != nil {
		return err
	}
	st.Run, st.Data = f.runID(), f.p.Digest()
	return data.WriteFileAtomic(filepath.Join(dir, "state.json"), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(st)
	})
}

// readCheckpoint restores the state and the splits' generator and returns
// the best weights of the checkpoint in Dir.
func (f *finetuner) readCheckpoint(src *rand.PCG) (finetuneState, map[*context.Variable]*tensors.Tensor, error) {
	dir := filepath.Join(f.o.Dir, CheckpointDir)
	var st finetuneState
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	if st.Run != f.runID() {
		return st, nil, fmt.Errorf("finetune: resume: the checkpoint in %s is of another run (%s), not %s", dir, st.Run, f.runID())
	}
	if d := f.p.Digest(); st.Data != d {
		return st, nil, fmt.Errorf("finetune: resume: the checkpoint in %s was made on other data than %s (same name and counts, other values, ratios or support): start a new run in another folder", dir, f.p.Source)
	}
	if err := src.UnmarshalBinary(st.Splits); err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	best, err := model.Load(filepath.Join(dir, "best"))
	if err != nil {
		return st, nil, fmt.Errorf("finetune: resume: %w", err)
	}
	vals := map[string]*tensors.Tensor{}
	for v := range best.Context().IterVariables() {
		vals[v.ScopeAndName()] = v.MustValue()
	}
	snap := map[*context.Variable]*tensors.Tensor{}
	for v := range f.m.Context().IterVariables() {
		if v.Trainable {
			t, ok := vals[v.ScopeAndName()]
			if !ok {
				return st, nil, fmt.Errorf("finetune: resume: %s lacks variable %s", filepath.Join(dir, "best"), v.ScopeAndName())
			}
			snap[v] = t
		}
	}
	return st, snap, nil
}

func (f *finetuner) snapshot() map[*context.Variable]*tensors.Tensor {
	snap := map[*context.Variable]*tensors.Tensor{}
	for v := range f.m.Context().IterVariables() {
		if v.Trainable {
			t, err := v.MustValue().LocalClone()
			if err != nil {
				panic(err) // a local tensor always clones
			}
			snap[v] = t
		}
	}
	return snap
}

// restore sets copies of snap's tensors into the model, never the tensors
// themselves: GoMLX frees a variable's tensor when the variable is set again
// (and training steps donate it), so a snapshot handed over would be freed
// at the next restore or step, and a best snapshot that outlived one
// checkpoint then failed the next one.
func (f *finetuner) restore(snap map[*context.Variable]*tensors.Tensor) {
	for v, t := range snap {
		c, err := t.LocalClone()
		if err != nil {
			panic(err) // a local tensor always clones
		}
		v.MustSetValue(c)
	}
}
