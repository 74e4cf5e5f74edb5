package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptft-lab/ptft/experiments"
)

// TestSlurmArrayMatchesUnshardedRun starts a single-node Slurm on this
// machine (munged, slurmctld and slurmd on 127.0.0.1, with their own
// configuration, key, ports and state in a temporary folder, stopped at
// the end), submits the quick E2 sweep as a job array of 3 with the
// committed slurm-e2.sbatch, waits for it, merges the shards with
// `ptft report --merge` and checks the tables are byte-identical to an
// unsharded run's. Without Slurm it skips; under CI=true it fails instead
// (.ci/run installs slurm-wlm and munge). It runs as root, as slurmd
// needs to.
func TestSlurmArrayMatchesUnshardedRun(t *testing.T) {
	for _, tool := range []string{"munged", "slurmctld", "slurmd", "sbatch", "sinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found under CI=true: apt-get install slurm-wlm munge", tool)
			}
			t.Skipf("%s not found: apt-get install slurm-wlm munge to run this test", tool)
		}
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the single-node Slurm test needs root (slurmd) under CI=true")
		}
		t.Skip("slurmd needs root")
	}
	tmp, err := os.MkdirTemp("", "ptft-slurm-") // short: socket paths have a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) }) // after the daemons stop (cleanups run last first)
	// MkdirTemp's folder is private; munged's socket must be reachable.
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}

	ptft := filepath.Join(tmp, "ptft")
	if out, err := exec.Command("go", "build", "-o", ptft, "../ptft").CombinedOutput(); err != nil {
		t.Fatalf("building ptft: %v\n%s", err, out)
	}
	conf := startSlurm(t, tmp)
	env := append(os.Environ(), "SLURM_CONF="+conf)

	// The quick E2 sweep as a job array of 3 tasks.
	sharded := filepath.Join(tmp, "sharded")
	os.MkdirAll(sharded, 0o755)
	sbatchFile, _ := filepath.Abs("slurm-e2.sbatch")
	sb := exec.Command("sbatch", "--wait", "--array=1-3", "--cpus-per-task=1", "--mem=500M", "--time=10:00", sbatchFile)
	sb.Dir, sb.Env = sharded, append(env, "PTFT="+ptft, "PTFT_RUN_FLAGS=--quick")
	if out, err := sb.CombinedOutput(); err != nil {
		logs, _ := filepath.Glob(filepath.Join(sharded, "ptft-e2-*.log"))
		var all []byte
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			all = append(all, b...)
		}
		t.Fatalf("sbatch: %v\n%s\ntask logs:\n%s", err, out, all)
	}
	shards, _ := filepath.Glob(filepath.Join(sharded, "results", "raw", "E2-quick.shard-*-of-3.jsonl"))
	if len(shards) != 3 {
		t.Fatalf("the array wrote %d shard files, want 3: %v", len(shards), shards)
	}
	run := func(dir string, args ...string) {
		t.Helper()
		c := exec.Command(ptft, args...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("ptft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(sharded, "report", "--merge", "--quick", "--no-png")

	whole := filepath.Join(tmp, "whole")
	os.MkdirAll(whole, 0o755)
	run(whole, "run", "E2", "--quick")
	run(whole, "report", "E2", "--quick", "--no-png")

	a, errA := os.ReadFile(filepath.Join(sharded, "results", "E2-quick.md"))
	b, errB := os.ReadFile(filepath.Join(whole, "results", "E2-quick.md"))
	if errA != nil || errB != nil {
		t.Fatalf("tables: %v, %v", errA, errB)
	}
	// The merged raw results hold the same cells with the same values.
	ra, rb := rawValues(t, filepath.Join(sharded, "results", "raw", "E2-quick.jsonl")), rawValues(t, filepath.Join(whole, "results", "raw", "E2-quick.jsonl"))
	e2, err := experiments.Lookup("E2")
	if err != nil {
		t.Fatal(err)
	}
	if want := len(e2.Cells(true, 0, 1)); len(ra) != want || len(rb) != want {
		t.Fatalf("%d merged cells, %d unsharded, want %d each", len(ra), len(rb), want)
	}
	for k, v := range rb {
		if ra[k] != v {
			t.Errorf("cell %s: %v from the Slurm array, %v unsharded", k, ra[k], v)
		}
	}
	// Wall times differ between any two runs; everything else must not.
	a, b = withoutTimes(a), withoutTimes(b)
	if !bytes.Contains(a, []byte("relative regret")) && !bytes.Contains(a, []byte("regret")) {
		t.Fatalf("no regret table in:\n%s", a)
	}
	if !bytes.Equal(a, b) {
		la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
		for i := range min(len(la), len(lb)) {
			if la[i] != lb[i] {
				t.Errorf("line %d: %q vs %q", i+1, la[i], lb[i])
			}
		}
		t.Errorf("the merged Slurm array's table differs from the unsharded run's")
	}
}

// rawValues reads a raw results file as cell key -> value.
func rawValues(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Key   string  `json:"key"`
			Value float64 `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Key == "" {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		vals[r.Key] = r.Value
	}
	return vals
}

// withoutTimes drops a report's wall-time table and total.
func withoutTimes(md []byte) []byte {
	var out []string
	skip := false
	for _, line := range strings.Split(string(md), "\n") {
		switch {
		case strings.HasPrefix(line, "Wall time"):
			skip = true
			continue
		case skip && (line == "" || strings.HasPrefix(line, "|")):
			continue
		}
		skip = false
		out = append(out, totalTime.ReplaceAllString(line, ""))
	}
	return []byte(strings.Join(out, "\n"))
}

var totalTime = regexp.MustCompile(`; [0-9.]+ s of deciding and finetuning in all`)

// startSlurm starts munged, slurmctld and slurmd for one node on
// 127.0.0.1, configured in dir, waits until the node is idle and stops
// them when the test ends. It returns the slurm.conf path.
func startSlurm(t *testing.T, dir string) string {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	for _, d := range []string{"state", "spool"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	key := filepath.Join(dir, "munge.key")
	rnd := make([]byte, 1024)
	f, _ := os.Open("/dev/urandom")
	f.Read(rnd)
	f.Close()
	if err := os.WriteFile(key, rnd, 0o400); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "munge.sock")
	p := func(name string) string { return filepath.Join(dir, name) }
	daemon(t, p("munged.pid"), "munged", "--force", "-S", sock, "--key-file="+key, "--log-file="+p("munged.log"),
		"--pid-file="+p("munged.pid"), "--seed-file="+p("munged.seed"))
	ctldPort, dPort := freePort(t), freePort(t)
	conf := p("slurm.conf")
	cfg := fmt.Sprintf(`ClusterName=ptft-test
SlurmctldHost=%[1]s(127.0.0.1)
SlurmctldPort=%[2]d
SlurmdPort=%[3]d
AuthType=auth/munge
AuthInfo=socket=%[4]s
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=%[5]s/state
SlurmdSpoolDir=%[5]s/spool
SlurmctldPidFile=%[5]s/slurmctld.pid
SlurmdPidFile=%[5]s/slurmd.pid
SlurmctldLogFile=%[5]s/slurmctld.log
SlurmdLogFile=%[5]s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
NodeName=%[1]s NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=ptft Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`, host, ctldPort, dPort, sock, dir)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon(t, p("slurmctld.pid"), "slurmctld", "-f", conf)
	daemon(t, p("slurmd.pid"), "slurmd", "-f", conf)
	deadline := time.Now().Add(60 * time.Second)
	for {
		si := exec.Command("sinfo", "-h", "-o", "%T")
		si.Env = append(os.Environ(), "SLURM_CONF="+conf)
		out, _ := si.Output()
		state := strings.TrimSpace(string(out))
		if state == "idle" {
			return conf
		}
		if time.Now().After(deadline) {
			logs := ""
			for _, l := range []string{"slurmctld.log", "slurmd.log", "munged.log"} {
				b, _ := os.ReadFile(p(l))
				logs += "\n--- " + l + "\n" + string(b)
			}
			t.Fatalf("the Slurm node did not become idle (state %q)%s", state, logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// daemon runs a forking daemon and registers its stop (SIGTERM to the pid
// in pidFile) at the end of the test.
func daemon(t *testing.T, pidFile, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if i := slicesIndex(args, "-f"); i >= 0 && i+1 < len(args) {
		cmd.Env = append(os.Environ(), "SLURM_CONF="+args[i+1])
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return
		}
		syscall.Kill(pid, syscall.SIGTERM)
		for range 50 {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	})
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
