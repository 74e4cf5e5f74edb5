package train

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestProgressWithoutTerminal: with standard output redirected, a run
// prints plain lines (no terminal codes) that count its own steps, even
// for a model whose optimizer has taken many steps before.
func TestProgressWithoutTerminal(t *testing.T) {
	var buf bytes.Buffer
	saved := progressOut
	progressOut = &buf
	defer func() { progressOut = saved }()

	dir := t.TempDir()
	o := smallOptions(t, dir, 12)
	o.ProgressBar = true
	m := smallModel(t)
	if err := Pretrain(context.Background(), m, o); err != nil {
		t.Fatal(err)
	}
	pre := buf.String()
	buf.Reset()
	f := DefaultFinetuneOptions()
	f.Steps, f.EvalEvery, f.ProgressBar = 20, 5, true
	if _, err := Finetune(context.Background(), m, realLike(2, 40, 6), f); err != nil {
		t.Fatal(err)
	}
	ft := buf.String()
	for name, out := range map[string]string{"pretraining": pre, "finetuning": ft} {
		if strings.ContainsRune(out, '\x1b') || strings.Contains(out, "\r") {
			t.Errorf("%s progress holds terminal codes: %q", name, out)
		}
		if len(out) > 4000 {
			t.Errorf("%s progress is %d bytes for a short run", name, len(out))
		}
	}
	if !strings.Contains(pre, "pretraining step 12 of 12, average regret") {
		t.Errorf("pretraining progress: %q", pre)
	}
	if !strings.Contains(ft, "finetuning step 2 of 20") || !strings.Contains(ft, "validation cost") || strings.Contains(ft, "of 32") {
		t.Errorf("finetuning progress does not count the run's own steps: %q", ft)
	}
}
