package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

func ptft(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSimulateDecideEvaluate(t *testing.T) {
	dir := t.TempDir()
	obs, truth := filepath.Join(dir, "obs.csv"), filepath.Join(dir, "truth.json")
	if code, _, stderr := ptft(t, "simulate", "--prior", "normal-normal", "--instances", "300", "--obs", "5",
		"--seed", "3", "--critical-ratio", "0.8", "--out", obs, "--truth", truth); code != 0 {
		t.Fatalf("simulate: %d %s", code, stderr)
	}
	var files []string
	for _, m := range []string{"saa", "pooled-saa", "shrunken-saa", "eb"} {
		out := filepath.Join(dir, m+".csv")
		if code, _, stderr := ptft(t, "decide", "--data", obs, "--method", m, "--out", out); code != 0 {
			t.Fatalf("decide %s: %d %s", m, code, stderr)
		}
		files = append(files, out)
	}
	code, table, stderr := ptft(t, "evaluate", "--truth", truth, "--decisions", strings.Join(files, ","))
	if code != 0 || !strings.Contains(table, "relative regret") || !strings.Contains(table, "shrunken-saa") {
		t.Fatalf("evaluate: %d %s %s", code, table, stderr)
	}
	code, js, _ := ptft(t, "evaluate", "--truth", truth, "--decisions", strings.Join(files, ","), "--json")
	var res struct {
		Results []struct {
			Decisions string  `json:"decisions"`
			Regret    float64 `json:"relative_regret"`
		} `json:"results"`
	}
	if code != 0 || json.Unmarshal([]byte(js), &res) != nil || len(res.Results) != 4 {
		t.Fatalf("evaluate --json: %d %s", code, js)
	}
	// On normal-normal data, EB pools and beats SAA.
	if !(res.Results[3].Regret < res.Results[0].Regret) {
		t.Errorf("EB regret %v not below SAA regret %v", res.Results[3].Regret, res.Results[0].Regret)
	}
}

func TestBadInputFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	cases := []struct {
		name, body string
		extra      []string
		want       string
	}{
		{"nohdr.csv", "a,1\nb,2\n", nil, "lacks column"},
		{"nonnum.csv", "instance,value\na,1\nb,lots\n", nil, `nonnum.csv:3: instance "b"`},
		{"nan.csv", "instance,value\na,NaN\n", nil, `nan.csv:2: instance "a"`},
		{"neg.csv", "instance,value\na,1\na,-3\n", nil, `neg.csv:3: instance "a": value -3 is negative`},
		{"ratio.csv", "instance,value,critical_ratio\na,1,1.2\n", nil, `ratio.csv:2: instance "a": critical ratio 1.2`},
		{"noratio.csv", "instance,value\na,1\n", []string{"--critical-ratio", "0"}, "no critical ratio"},
		{"empty.csv", "", nil, "empty file"},
	}
	for _, c := range cases {
		in := write(c.name, c.body)
		out := filepath.Join(dir, "out-"+c.name)
		args := append([]string{"decide", "--data", in, "--method", "saa", "--out", out, "--critical-ratio", "0.5"}, c.extra...)
		code, _, stderr := ptft(t, args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", c.name, code, stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output file written despite the error", c.name)
		}
	}
	good := write("good.csv", "instance,value\na,1\n")
	if code, _, stderr := ptft(t, "decide", "--data", good, "--method", "magic", "--out", filepath.Join(dir, "x.csv"), "--critical-ratio", "0.5"); code != 2 || !strings.Contains(stderr, "unknown method") {
		t.Errorf("unknown method: %d %s", code, stderr)
	}
	if code, _, stderr := ptft(t, "decide", "--data", good, "--method", "saa", "--out", filepath.Join(dir, "x.csv"), "--critical-ratio", "1.5"); code != 2 || !strings.Contains(stderr, "outside (0,1)") {
		t.Errorf("ratio flag outside (0,1): %d %s", code, stderr)
	}
	if code, _, stderr := ptft(t, "simulate", "--prior", "nope", "--out", filepath.Join(dir, "s.csv")); code == 0 || !strings.Contains(stderr, "unknown prior") {
		t.Errorf("unknown prior: %d %s", code, stderr)
	}
	if code, _, _ := ptft(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
}

func TestEvaluateChecksInstancesMatch(t *testing.T) {
	dir := t.TempDir()
	obs, truth := filepath.Join(dir, "obs.csv"), filepath.Join(dir, "truth.json")
	ptft(t, "simulate", "--prior", "gamma-poisson", "--instances", "5", "--obs", "3", "--out", obs, "--truth", truth)
	missing := filepath.Join(dir, "missing.csv")
	os.WriteFile(missing, []byte("instance,quantity\n1,3\n2,3\n"), 0o644)
	if code, _, stderr := ptft(t, "evaluate", "--truth", truth, "--decisions", missing); code == 0 || !strings.Contains(stderr, `no decision for instance "3"`) {
		t.Errorf("missing decision: %d %s", code, stderr)
	}
	extra := filepath.Join(dir, "extra.csv")
	os.WriteFile(extra, []byte("instance,quantity\n1,3\n2,3\n3,1\n4,1\n5,1\nghost,2\n"), 0o644)
	if code, _, stderr := ptft(t, "evaluate", "--truth", truth, "--decisions", extra); code == 0 || !strings.Contains(stderr, `"ghost" is not in`) {
		t.Errorf("extra decision: %d %s", code, stderr)
	}
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"instances":[{"id":"1","critical_ratio":0.5,"distribution":{"family":"normal","params":{"mu":1}}}]}`), 0o644)
	if code, _, stderr := ptft(t, "evaluate", "--truth", broken, "--decisions", missing); code == 0 || !strings.Contains(stderr, `instance "1"`) {
		t.Errorf("broken truth: %d %s", code, stderr)
	}
}

// rossmannData points PTFT_DATA at the Rossmann folder (shared/ beside the
// clone, or PTFT_DATA as set); without it the test skips, and fails under
// CI=true, as the README says.
func rossmannData(t *testing.T) {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data", "rossmann")
	if _, err := os.Stat(dir); err == nil {
		t.Setenv("PTFT_DATA", dir)
		return
	}
	if os.Getenv("PTFT_DATA") != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Rossmann data not found under CI=true: set PTFT_DATA or lay shared/data/rossmann beside the clone")
	}
	t.Skip("Rossmann data not found; set PTFT_DATA")
}

// TestRossmannFromCSVMatchesTheBenchmark: the practitioner path (export
// the data as CSV, ptft decide --support, ptft evaluate) gives the same
// benefits over SAA as the in-process benchmark, bin-unit methods
// included.
func TestRossmannFromCSVMatchesTheBenchmark(t *testing.T) {
	rossmannData(t)
	dir := t.TempDir()
	if code, _, stderr := ptft(t, "rossmann", "--instances", "200", "--runs", "1", "--export", dir); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	run := filepath.Join(dir, "run-0")
	methods := []string{"saa", "shrunken-saa", "transformer+bins", "saa+bins"}
	var files []string
	for _, m := range methods {
		out := filepath.Join(dir, m+".csv")
		code, _, stderr := ptft(t, "decide", "--data", filepath.Join(run, "obs.csv"), "--support", filepath.Join(run, "support.csv"), "--method", m, "--out", out)
		if code != 0 {
			t.Fatalf("decide %s: %s", m, stderr)
		}
		files = append(files, out)
	}
	code, js, stderr := ptft(t, "evaluate", "--truth", filepath.Join(run, "truth.json"), "--decisions", strings.Join(files, ","), "--json")
	var ev struct {
		Results []struct {
			Cost float64 `json:"mean_cost"`
		} `json:"results"`
	}
	if code != 0 || json.Unmarshal([]byte(js), &ev) != nil || len(ev.Results) != len(methods) {
		t.Fatalf("evaluate: %d %s %s", code, js, stderr)
	}
	code, js, stderr = ptft(t, "rossmann", "--instances", "200", "--runs", "1", "--methods", strings.Join(methods[1:], ","), "--json")
	var bench struct {
		Rows []struct {
			Method  string  `json:"method"`
			Benefit float64 `json:"benefit_over_saa"`
		} `json:"rows"`
	}
	if code != 0 || json.Unmarshal([]byte(js), &bench) != nil {
		t.Fatalf("rossmann: %d %s", code, stderr)
	}
	for i, m := range methods {
		got := 1 - ev.Results[i].Cost/ev.Results[0].Cost
		for _, r := range bench.Rows {
			if r.Method == m && math.Abs(r.Benefit-got) > 1e-9 {
				t.Errorf("%s: benefit %v from CSV files, %v in the benchmark", m, got, r.Benefit)
			}
		}
	}
}

func TestRossmannKnownShapeDiagnostics(t *testing.T) {
	rossmannData(t)
	// rossmann runs one 200-store run of methods and checks that the table
	// has a row for each of rows.
	rossmann := func(methods string, rows ...string) string {
		t.Helper()
		code, table, stderr := ptft(t, "rossmann", "--instances", "200", "--runs", "1", "--methods", methods)
		if code != 0 {
			t.Fatalf("rossmann --methods %s: %d %s", methods, code, stderr)
		}
		for _, want := range rows {
			if !strings.Contains(table, "| "+want+" ") {
				t.Errorf("table lacks a %q row:\n%s", want, table)
			}
		}
		return table
	}
	table := rossmann("shrunken-saa,known-shape-shift,known-shape-scale", "known-shape-shift", "known-shape-scale", "shrunken-saa")
	if strings.Contains(table, "NaN") {
		t.Errorf("one run printed a NaN standard error:\n%s", table)
	}
	if !strings.Contains(table, "mean chosen alpha") {
		t.Errorf("table lacks Shrunken-SAA's alpha:\n%s", table)
	}

	// Bin units, and two models told apart by name; no Shrunken-SAA, so no
	// alpha line.
	table = rossmann("saa+bins,transformer+bins,transformer@retail-daily+bins", "saa+bins", "transformer+bins", "transformer@retail-daily+bins")
	if strings.Contains(table, "alpha") {
		t.Errorf("alpha line without Shrunken-SAA:\n%s", table)
	}
}

// TestNoSilentlyWrongDecisions (issue: NaN for every product with exit 0):
// huge but finite values give finite decisions where the method can
// handle them (EB works in scaled units), and otherwise a one-line error
// naming the instance, exit 1 and no output file.
func TestNoSilentlyWrongDecisions(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("instance,value,critical_ratio\n")
	for i := range 20 {
		for j := range 5 {
			fmt.Fprintf(&b, "p%d,%d,0.8\n", i, 40+3*i+j)
		}
	}
	normal := b.String()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	huge := write("huge.csv", normal+"big,1e300,0.8\nbig,3e300,0.8\nbig,2e300,0.8\n")
	e40 := write("e40.csv", normal+"big,1e40,0.8\nbig,2e40,0.8\n")
	var bb strings.Builder
	bb.WriteString("instance,value,critical_ratio\n")
	for i := range 20 {
		for j := range 5 {
			fmt.Fprintf(&bb, "p%d,%de158,0.8\n", i, 40+3*i+j)
		}
	}
	big160 := write("big160.csv", bb.String())
	for _, c := range []struct {
		data, method string
		ok           bool
		want         string
	}{
		{huge, "eb", true, ""},
		{huge, "eb-ml", true, ""},
		{big160, "eb", true, ""},
		{big160, "transformer", true, ""},
		{huge, "transformer", false, `instance "big"`},
		{e40, "transformer", false, `instance "big"`},
		{huge, "saa", true, ""},
		{huge, "shrunken-saa", true, ""},
	} {
		out := filepath.Join(dir, "out.csv")
		os.Remove(out)
		code, _, stderr := ptft(t, "decide", "--data", c.data, "--method", c.method, "--out", out)
		if !c.ok {
			if _, err := os.Stat(out); code != 1 || !strings.Contains(stderr, c.want) || err == nil {
				t.Errorf("%s on %s: exit %d, stderr %q, output written %v; want exit 1 naming %s", c.method, filepath.Base(c.data), code, stderr, err == nil, c.want)
			}
			continue
		}
		if code != 0 {
			t.Errorf("%s on %s: exit %d: %s", c.method, filepath.Base(c.data), code, stderr)
			continue
		}
		q, _, err := data.ReadDecisionsFile(out) // refuses NaN, infinities and negatives
		if err != nil {
			t.Errorf("%s on %s: %v", c.method, filepath.Base(c.data), err)
		}
		if c.data == huge && c.method != "saa" && c.method != "shrunken-saa" {
			for id, v := range q {
				if id != "big" && v > 1e6 {
					t.Logf("%s on %s: %s decided %g (finite; the outlier dominates the pooled estimate)", c.method, filepath.Base(c.data), id, v)
					break
				}
			}
		}
	}
}

// TestExitCodesAndMessages: 1 for bad data (a corrupt model is data), 2
// for a bad invocation, one sentence each; -h describes the command.
func TestExitCodesAndMessages(t *testing.T) {
	dir := t.TempDir()
	obs := filepath.Join(dir, "obs.csv")
	os.WriteFile(obs, []byte("instance,value,critical_ratio\na,1,0.8\na,2,0.8\nb,3,0.8\nb,5,0.8\n"), 0o644)
	bad := filepath.Join(dir, "model")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "model.json"), []byte("{not json"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"decide", "--data", obs, "--method", "transformer", "--model", bad, "--out", filepath.Join(dir, "q.csv")}, 1, "corrupt"},
		{[]string{"finetune", "--data", obs, "--val-fraction", "1.5", "--out", filepath.Join(dir, "ft")}, 2, "validation fraction 1.5"},
		{[]string{"compare", "--instances", "0"}, 2, "--instances 0"},
		{[]string{"simulate", "--prior", "normal-normal", "--instances", "-3", "--out", filepath.Join(dir, "s.csv")}, 2, "--instances -3"},
		{[]string{"pretrain", "--prior", "normal-normal", "--steps", "0", "--out", filepath.Join(dir, "pt")}, 2, "steps 0"},
		{[]string{"decide", "--data", obs, "--method", "transformer@", "--out", filepath.Join(dir, "q.csv")}, 2, "take a model after @"},
		{[]string{"ensemble", "--members", "default", "--out", filepath.Join(dir, "e")}, 2, "at least two members"},
		{[]string{"ensemble", "--members", "default,normal-normal", "--out", filepath.Join(dir, "e")}, 2, "another architecture"},
		{[]string{"ensemble", "--members", "default," + bad, "--out", filepath.Join(dir, "e")}, 1, "corrupt"},
		{[]string{"ensemble", "--members", "default,default", "--out", bad}, 1, "already holds a model"},
		{[]string{"suite", "--stress", "--outside"}, 2, "give one"},
	} {
		code, _, stderr := ptft(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 || strings.Contains(stderr, "{") {
			t.Errorf("ptft %s: exit %d, stderr %q; want exit %d, one line with %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}

func TestSubcommandHelp(t *testing.T) {
	var buf bytes.Buffer
	saved := helpOut
	helpOut = &buf
	defer func() { helpOut = saved }()
	if code, _, _ := ptft(t, "decide", "-h"); code != 0 {
		t.Fatalf("decide -h: exit %d", code)
	}
	out := buf.String()
	for _, want := range []string{"usage: ptft decide [flags]", "Decide one order quantity", "shrunken-saa", "eb-gamma-poisson-ml",
		"transformer-finetuned", "after @", "retail-daily", "+bins", "-method"} {
		if !strings.Contains(out, want) {
			t.Errorf("decide -h lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if code, _, _ := ptft(t, "simulate", "-h"); code != 0 || !strings.Contains(buf.String(), "usage: ptft simulate [flags]") || !strings.Contains(buf.String(), "Draw a synthetic portfolio") {
		t.Errorf("simulate -h: exit %d\n%s", code, buf.String())
	}
}

// TestEvaluateRefusesAMismatchedPair: a CSV from another simulate run
// beside an old truth file is refused (it was scored without complaint).
func TestEvaluateRefusesAMismatchedPair(t *testing.T) {
	dir := t.TempDir()
	obs, truth, q := filepath.Join(dir, "obs.csv"), filepath.Join(dir, "truth.json"), filepath.Join(dir, "q.csv")
	sim := func(seed string, withTruth bool) {
		args := []string{"simulate", "--prior", "normal-normal", "--instances", "50", "--obs", "5", "--seed", seed, "--critical-ratio", "0.8", "--out", obs}
		if withTruth {
			args = append(args, "--truth", truth)
		}
		if code, _, stderr := ptft(t, args...); code != 0 {
			t.Fatalf("simulate: %s", stderr)
		}
	}
	sim("1", true)
	if code, _, stderr := ptft(t, "decide", "--data", obs, "--method", "saa", "--out", q); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := ptft(t, "evaluate", "--truth", truth, "--decisions", q); code != 0 {
		t.Fatalf("matching pair refused: %s", stderr)
	}
	sim("2", false) // a new CSV beside the old truth file
	if code, _, stderr := ptft(t, "evaluate", "--truth", truth, "--decisions", q); code != 1 || !strings.Contains(stderr, "does not belong") {
		t.Errorf("mismatched pair: exit %d, %q", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("files left beside the outputs: %v", entries)
	}
}

// TestEnsembleOfCopiesDecidesAsOne: ptft ensemble writes a model folder
// that decide takes, and an ensemble of one model with itself decides
// exactly as that model.
func TestEnsembleOfCopiesDecidesAsOne(t *testing.T) {
	dir := t.TempDir()
	obs, ens := filepath.Join(dir, "obs.csv"), filepath.Join(dir, "ens")
	if code, _, stderr := ptft(t, "simulate", "--prior", "broad", "--instances", "200", "--obs", "4", "--seed", "5", "--out", obs); code != 0 {
		t.Fatalf("simulate: %d %s", code, stderr)
	}
	if code, out, stderr := ptft(t, "ensemble", "--members", "default,default", "--out", ens); code != 0 || !strings.Contains(out, "ensemble of 2 models") {
		t.Fatalf("ensemble: %d %s %s", code, out, stderr)
	}
	var q [2][]byte
	for i, ref := range []string{"default", ens} {
		out := filepath.Join(dir, fmt.Sprintf("q%d.csv", i))
		if code, _, stderr := ptft(t, "decide", "--data", obs, "--method", "transformer", "--model", ref, "--out", out); code != 0 {
			t.Fatalf("decide with %s: %d %s", ref, code, stderr)
		}
		q[i], _ = os.ReadFile(out)
	}
	if !bytes.Equal(q[0], q[1]) || len(q[0]) == 0 {
		t.Errorf("the ensemble of the default with itself decides otherwise than the default")
	}
}
