package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPretrainDecideAndBadCheckpoints(t *testing.T) {
	dir := t.TempDir()
	mdir := filepath.Join(dir, "m")
	args := []string{"pretrain", "--prior", "normal-normal", "--steps", "4", "--batch", "2", "--instances", "8-16",
		"--obs", "3-5", "--width", "8", "--blocks", "1", "--heads", "2", "--checkpoint-every", "2", "--quiet", "--out", mdir}
	if code, _, stderr := ptft(t, args...); code != 0 {
		t.Fatalf("pretrain: %d %s", code, stderr)
	}
	for _, f := range []string{"model.json", "weights.bin", "loss.csv", "loss.svg"} {
		if _, err := os.Stat(filepath.Join(mdir, f)); err != nil {
			t.Errorf("pretrain left no %s: %v", f, err)
		}
	}
	if code, _, stderr := ptft(t, args...); code == 0 || !strings.Contains(stderr, "--resume") {
		t.Errorf("second pretrain into the same folder: %d %s", code, stderr)
	}
	resumeOther := append([]string{}, args...)
	resumeOther[2] = "gamma-poisson"
	if code, _, stderr := ptft(t, append(resumeOther, "--resume")...); code == 0 || !strings.Contains(stderr, "normal-normal") {
		t.Errorf("resume with another prior: %d %s", code, stderr)
	}

	obs := filepath.Join(dir, "obs.csv")
	ptft(t, "simulate", "--prior", "normal-normal", "--instances", "30", "--obs", "4", "--out", obs, "--critical-ratio", "0.7")
	out := filepath.Join(dir, "tf.csv")
	if code, _, stderr := ptft(t, "decide", "--data", obs, "--method", "transformer", "--model", mdir, "--out", out); code != 0 {
		t.Fatalf("decide transformer: %d %s", code, stderr)
	}
	raw, _ := os.ReadFile(filepath.Join(mdir, "weights.bin"))
	raw[0] ^= 1
	os.WriteFile(filepath.Join(mdir, "weights.bin"), raw, 0o644)
	bad := filepath.Join(dir, "bad.csv")
	code, _, stderr := ptft(t, "decide", "--data", obs, "--method", "transformer", "--model", mdir, "--out", bad)
	if code == 0 || !strings.Contains(stderr, mdir) || !strings.Contains(stderr, "checksum") {
		t.Errorf("corrupt checkpoint: %d %s", code, stderr)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("decisions written from a corrupt model")
	}
	if code, _, _ := ptft(t, "decide", "--data", obs, "--method", "transformer", "--model", filepath.Join(dir, "nothing"), "--out", bad); code == 0 {
		t.Error("missing model folder accepted")
	}
}
