package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunAndReportFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	raw, out := filepath.Join(dir, "raw"), filepath.Join(dir, "out")
	for _, shard := range []string{"1/2", "2/2"} {
		code, stdout, stderr := ptft(t, "run", "E1", "--quick", "--quiet", "--dir", raw, "--shard", shard)
		if code != 0 || !strings.Contains(stdout, "run now") || strings.Contains(stdout, " 0 run now") {
			t.Fatalf("run shard %s: %d %s %s", shard, code, stdout, stderr)
		}
	}
	// Resuming a finished shard runs nothing.
	if code, stdout, _ := ptft(t, "run", "E1", "--quick", "--quiet", "--dir", raw, "--shard", "1/2"); code != 0 || !strings.Contains(stdout, " 0 run now") {
		t.Errorf("rerun of a finished shard: %d %s", code, stdout)
	}
	code, stdout, stderr := ptft(t, "report", "E1", "--quick", "--dir", raw, "--out", out, "--no-png")
	if code != 0 {
		t.Fatalf("report: %d %s", code, stderr)
	}
	first, err := os.ReadFile(filepath.Join(out, "E1-quick.md"))
	if err != nil || !strings.Contains(stdout, "E1-quick.md") {
		t.Fatalf("report wrote %s (%v)", stdout, err)
	}
	if code, _, stderr := ptft(t, "report", "E1", "--quick", "--merge", "--dir", raw, "--out", out, "--no-png"); code != 0 {
		t.Fatalf("report --merge: %d %s", code, stderr)
	}
	second, _ := os.ReadFile(filepath.Join(out, "E1-quick.md"))
	if string(first) != string(second) {
		t.Error("merging the shards changed the table")
	}
	if _, err := os.Stat(filepath.Join(out, "figures", "E1-quick-n2.svg")); err != nil {
		t.Errorf("no figure: %v", err)
	}
}

func TestRunRejectsBadInvocations(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "E9"},
		{"run", "E1", "--shard", "3/2"},
		{"run", "E1", "--shard", "x"},
		{"report", "E9"},
		{"kernel"},
	} {
		if code, _, _ := ptft(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := ptft(t, "report", "E1", "--dir", t.TempDir(), "--out", t.TempDir()); code != 1 || !strings.Contains(stderr, "ptft run E1") {
		t.Errorf("report without results: %d %s", code, stderr)
	}
}

func TestShardFromSchedulerEnvironment(t *testing.T) {
	t.Setenv("SLURM_ARRAY_TASK_ID", "5")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "4")
	t.Setenv("SLURM_ARRAY_TASK_MIN", "2")
	if i, n, ok, err := shardFromEnv(); err != nil || !ok || i != 4 || n != 4 {
		t.Errorf("slurm 5 of 2..5: %d/%d %v %v, want 4/4", i, n, ok, err)
	}
	t.Setenv("SLURM_ARRAY_TASK_ID", "")
	t.Setenv("JOB_COMPLETION_INDEX", "0")
	t.Setenv("PTFT_SHARDS", "8")
	if i, n, ok, err := shardFromEnv(); err != nil || !ok || i != 1 || n != 8 {
		t.Errorf("indexed job 0 of 8: %d/%d %v %v, want 1/8", i, n, ok, err)
	}
	t.Setenv("PTFT_SHARDS", "x")
	if _, _, _, err := shardFromEnv(); err == nil {
		t.Error("PTFT_SHARDS=x: no error")
	}
}
