package experiments

import (
	"bytes"
	stdcontext "context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/problem"
	"github.com/ptft-lab/ptft/workbench/train"
)

// cheap is a fast experiment for the runner's tests: classical methods only.
func cheap() *Experiment {
	e, _ := Lookup("E1")
	e.Quick.Methods = []string{"saa", "eb", "bayes"}
	e.Quick.Instances = []int{10, 30, 100}
	return e
}

func TestCellsAreDeterministicAndShareEnvironmentsAcrossMethods(t *testing.T) {
	e := cheap()
	a, b := e.Cells(true, 0, 1), e.Cells(true, 0, 1)
	if !slices.Equal(a, b) {
		t.Fatal("the same experiment expands differently twice")
	}
	want := len(e.Quick.Instances) * len(e.Quick.Obs) * e.Quick.Seeds * len(e.Quick.Methods)
	if len(a) != want {
		t.Fatalf("%d cells, want %d", len(a), want)
	}
	keys := map[string]bool{}
	seeds := map[uint64]string{}
	for _, c := range a {
		if keys[c.Key()] {
			t.Errorf("duplicate key %s", c.Key())
		}
		keys[c.Key()] = true
		cfg := c.Group() + "|" + string(rune(c.Replicate))
		if prev, ok := seeds[c.EnvSeed]; ok && prev != cfg {
			t.Errorf("environment seed %d shared by %s and %s", c.EnvSeed, prev, cfg) // same across K, not across n or replicates
		}
		seeds[c.EnvSeed] = cfg
	}
	if c := e.Cells(true, 0, 2); c[0].EnvSeed == a[0].EnvSeed {
		t.Error("the base seed does not change the environments")
	}
}

func TestShardsPartitionTheCells(t *testing.T) {
	cells := cheap().Cells(true, 0, 1)
	var union []string
	for i := 1; i <= 3; i++ {
		for _, c := range Shard(cells, i, 3) {
			union = append(union, c.Key())
		}
	}
	var all []string
	for _, c := range cells {
		all = append(all, c.Key())
	}
	slices.Sort(union)
	slices.Sort(all)
	if !slices.Equal(union, all) {
		t.Errorf("shards 1..3 hold %d cells, the experiment %d, or they overlap", len(union), len(all))
	}
}

func TestKilledRunResumesWithoutDuplicatesOrLosses(t *testing.T) {
	dir := t.TempDir()
	e := cheap()
	ctx := stdcontext.Background()
	s, err := Run(ctx, e, RunOptions{Quick: true, Dir: dir, MaxCells: 5})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ran != 5 {
		t.Fatalf("first run ran %d cells, want 5", s.Ran)
	}
	// A cancelled run stops between cells.
	cctx, cancel := stdcontext.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, e, RunOptions{Quick: true, Dir: dir}); err == nil {
		t.Error("cancelled run: no error")
	}
	s, err = Run(ctx, e, RunOptions{Quick: true, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	total := len(e.Cells(true, 0, 1))
	if s.Skipped != 5 || s.Ran != total-5 {
		t.Errorf("resumed run skipped %d and ran %d, want 5 and %d", s.Skipped, s.Ran, total-5)
	}
	recs, err := ReadRaw(dir, e.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != total {
		t.Errorf("%d records, want %d", len(recs), total)
	}
	// Same seed, same results: a fresh run in another folder agrees.
	dir2 := t.TempDir()
	if _, err := Run(ctx, e, RunOptions{Quick: true, Dir: dir2}); err != nil {
		t.Fatal(err)
	}
	recs2, _ := ReadRaw(dir2, e.Name, true)
	for i := range recs {
		if recs[i].Key != recs2[i].Key || recs[i].Value != recs2[i].Value {
			t.Fatalf("record %d differs between runs: %s %v vs %s %v", i, recs[i].Key, recs[i].Value, recs2[i].Key, recs2[i].Value)
		}
	}
}

func TestShardedRunMergesToTheUnshardedResults(t *testing.T) {
	ctx := stdcontext.Background()
	e := cheap()
	whole, sharded := t.TempDir(), t.TempDir()
	if _, err := Run(ctx, e, RunOptions{Quick: true, Dir: whole}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if _, err := Run(ctx, e, RunOptions{Quick: true, Dir: sharded, Shard: i, Shards: 2}); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := RawFiles(sharded, e.Name, true); len(files) != 2 {
		t.Fatalf("shard files %v, want 2", files)
	}
	// The same raw results, as two shards or merged, give byte-identical tables.
	out1, out2 := t.TempDir(), t.TempDir()
	if _, err := Report(e, ReportOptions{RawDir: sharded, OutDir: out1, Quick: true, NoPNG: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Merge(sharded, e.Name, true); err != nil {
		t.Fatal(err)
	}
	if files, _ := RawFiles(sharded, e.Name, true); len(files) != 1 {
		t.Fatalf("after merge: files %v, want one", files)
	}
	if _, err := Report(e, ReportOptions{RawDir: sharded, OutDir: out2, Quick: true, NoPNG: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(out1, "E1-quick.md"))
	b, _ := os.ReadFile(filepath.Join(out2, "E1-quick.md"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the same raw results gave different tables")
	}
	// Timing differs between runs; values (regret) do not.
	ra, _ := ReadRaw(whole, e.Name, true)
	rb, _ := ReadRaw(sharded, e.Name, true)
	if len(ra) != len(rb) {
		t.Fatalf("%d vs %d records", len(ra), len(rb))
	}
	for i := range ra {
		if ra[i].Key != rb[i].Key || ra[i].Value != rb[i].Value {
			t.Errorf("record %d: %s %v vs %s %v", i, ra[i].Key, ra[i].Value, rb[i].Key, rb[i].Value)
		}
	}
}

func TestBadRawLineNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	e := cheap()
	if _, err := Run(stdcontext.Background(), e, RunOptions{Quick: true, Dir: dir, MaxCells: 2}); err != nil {
		t.Fatal(err)
	}
	path := RawPath(dir, e.Name, true, 0, 0)
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("{\"key\": \"half\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadRaw(dir, e.Name, true)
	if err == nil || !strings.Contains(err.Error(), path+":3") {
		t.Errorf("error %v, want one naming %s:3", err, path)
	}
	out := t.TempDir()
	if _, err := Report(e, ReportOptions{RawDir: dir, OutDir: out, Quick: true}); err == nil {
		t.Error("report on a corrupt raw file: no error")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("report on a corrupt raw file left %v", entries)
	}
}

func TestReportWithoutResultsSaysWhatToRun(t *testing.T) {
	_, err := Report(cheap(), ReportOptions{RawDir: t.TempDir(), OutDir: t.TempDir(), Quick: true})
	if err == nil || !strings.Contains(err.Error(), "ptft run E1 --quick") {
		t.Errorf("error %v, want the command to run", err)
	}
}

func TestShardOutOfRangeIsAnError(t *testing.T) {
	if _, err := Run(stdcontext.Background(), cheap(), RunOptions{Quick: true, Dir: t.TempDir(), Shard: 3, Shards: 2}); err == nil {
		t.Error("shard 3/2: no error")
	}
}

func TestEveryExperimentExpands(t *testing.T) {
	for _, e := range All() {
		for _, quick := range []bool{true, false} {
			cells := e.Cells(quick, 0, 1)
			if len(cells) == 0 {
				t.Errorf("%s quick=%v: no cells", e.Name, quick)
			}
			for _, c := range cells {
				if c.Method == "" || c.K < 1 || c.N < 1 {
					t.Errorf("%s: bad cell %+v", e.Name, c)
				}
			}
		}
	}
	if _, err := Lookup("E9"); err == nil {
		t.Error("E9: no error")
	}
}

func TestMethodsResolve(t *testing.T) {
	for _, m := range append(slices.Clone(baseline.Methods), "eb-ml", "eb-gamma-poisson", "eb-gamma-poisson-ml", "eb-log-ml", "transformer", "transformer-finetuned", "transformer-scratch") {
		if _, err := Method(m, MethodOptions{}); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	// The one parser: base, model after @, +bins; and back.
	for name, want := range map[string]MethodSpec{
		"eb":                                    {Base: "eb"},
		"transformer@retail-daily":              {Base: "transformer", Model: "retail-daily"},
		"transformer-finetuned@./my model+bins": {Base: "transformer-finetuned", Model: "./my model", Bins: true},
		"saa+bins":                              {Base: "saa", Bins: true},
	} {
		got, err := ParseMethod(name)
		if err != nil || got != want || got.String() != name {
			t.Errorf("ParseMethod(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	// bayes and oracle need a truth; with one they resolve.
	for _, m := range []string{"bayes", "oracle"} {
		if _, err := Method(m, MethodOptions{}); !errors.Is(err, baseline.ErrUnknownMethod) {
			t.Errorf("%s without a truth: %v", m, err)
		}
	}
	p, _ := prior.Lookup("normal-normal")
	env, _ := p.Generate(1, prior.Options{Instances: 20})
	if b, err := Method("bayes", MethodOptions{Env: env}); err != nil || b.Name() != "bayes" {
		t.Errorf("bayes with a truth: %v %v", b, err)
	}
	if o, err := Method("oracle", MethodOptions{Env: env}); err != nil || o.Name() != "oracle" {
		t.Errorf("oracle with a truth: %v %v", o, err)
	}
	if _, err := Method("known-shape-shift", MethodOptions{}); !errors.Is(err, baseline.ErrUnknownMethod) {
		t.Errorf("known-shape-shift without Rossmann data: %v", err)
	}
	if _, err := Method("nope", MethodOptions{}); err == nil {
		t.Error("unknown method: no error")
	}
	m, err := Method("transformer@normal-normal", MethodOptions{Model: "default"})
	if mm, ok := unwrap(m).(*model.Model); err != nil || !ok || mm.Meta.Prior != "normal-normal" || m.Name() != "transformer@normal-normal" {
		t.Errorf("transformer@normal-normal: %v, %v", m, err)
	}
	// transformer-head skips the selection on its own copy; "transformer"
	// from the same cache keeps it.
	cache := map[string]*model.Model{}
	head, err := Method("transformer-head", MethodOptions{Models: cache})
	full, err2 := Method("transformer", MethodOptions{Models: cache})
	if hm, ok := unwrap(head).(*model.Model); err != nil || err2 != nil || !ok || !hm.FullStrength || head.Name() != "transformer-head" {
		t.Errorf("transformer-head: %v, %v, %v", head, err, err2)
	} else if fm := unwrap(full).(*model.Model); fm.FullStrength || fm == hm {
		t.Error("transformer-head changed the cached transformer")
	}
	for _, bad := range []string{"eb@default", "transformer@", "transformer@no-such-model"} {
		if _, err := Method(bad, MethodOptions{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if !needsFinetune("transformer-finetuned@retail-daily") || needsFinetune("transformer@retail-daily") {
		t.Error("needsFinetune ignores the model suffix wrongly")
	}
	if !needsFinetune("transformer-finetuned@retail-daily+bins") || needsFinetune("transformer+bins") {
		t.Error("needsFinetune ignores the bin-units suffix wrongly")
	}
	m, err = Method("transformer-finetuned@normal-normal+bins", MethodOptions{})
	if _, ok := m.(baseline.BinUnits); err != nil || !ok || m.Name() != "transformer-finetuned@normal-normal+bins" {
		t.Errorf("transformer-finetuned@normal-normal+bins: %v, %v", m, err)
	} else if _, ok := unwrap(m).(*train.FinetunedPolicy); !ok {
		t.Errorf("+bins wraps %T, want the finetuned policy", unwrap(m))
	}
	if _, err := Method("nope+bins", MethodOptions{}); err == nil {
		t.Error("nope+bins: no error")
	}
	if _, err := LoadModel("normal-normal"); err != nil {
		t.Errorf("shipped normal-normal: %v", err)
	}
	if _, err := LoadModel(t.TempDir()); err == nil {
		t.Error("empty folder as a model: no error")
	}
}

// TestCommittedRawResultsCoverEveryCell: the raw results under results/
// hold a record for every cell of every experiment's full grid (their
// keys are what resumes and reports match on, so a change of key or grid
// shows here).
func TestCommittedRawResultsCoverEveryCell(t *testing.T) {
	for _, e := range All() {
		recs, err := ReadRaw(filepath.Join("..", "results", "raw"), e.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, r := range recs {
			have[r.Key] = true
		}
		for _, c := range e.Cells(false, 0, 1) {
			if !have[c.Key()] {
				t.Errorf("%s: no committed record for %s", e.Name, c.Key())
				break
			}
		}
	}
}

func TestQuickTransformerCellsRecordBackendAndFinetuning(t *testing.T) {
	e, _ := Lookup("E2")
	e.Quick.Instances = []int{10}
	e.Quick.Methods = []string{"transformer", "transformer-finetuned"}
	e.Quick.FinetuneSteps = 3
	dir := t.TempDir()
	if _, err := Run(stdcontext.Background(), e, RunOptions{Quick: true, Dir: dir, Seeds: 1}); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRaw(dir, "E2", true)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records %v, %v", recs, err)
	}
	for _, r := range recs {
		if r.Backend == "" || r.Backend == "none" || r.Version == "" || !(r.Regret > 0) || r.Value != r.Regret {
			t.Errorf("record %+v: want a backend, a version and a positive regret", r)
		}
		if r.Cell.Method == "transformer-finetuned" && r.FinetuneSteps == 0 {
			t.Errorf("finetuned record without its steps: %+v", r)
		}
	}
}

func TestReplicatesShareEnvironmentsAcrossK(t *testing.T) {
	e, _ := Lookup("E2")
	seeds := map[int]map[uint64]bool{}
	for _, c := range e.Cells(false, 0, 1) {
		if seeds[c.Replicate] == nil {
			seeds[c.Replicate] = map[uint64]bool{}
		}
		seeds[c.Replicate][c.EnvSeed] = true
	}
	for r, s := range seeds {
		if len(s) != 1 {
			t.Errorf("replicate %d has %d environment seeds across K, want 1", r, len(s))
		}
	}
	// A smaller portfolio is the first products of a larger one.
	x := &executor{exp: e}
	c := e.Cells(false, 0, 1)[0]
	small, err := x.environment(c)
	if err != nil {
		t.Fatal(err)
	}
	c.K = 100
	large, err := x.environment(c)
	if err != nil {
		t.Fatal(err)
	}
	for k := range small.Portfolio.Len() {
		if !slices.Equal(small.Portfolio.Obs[k], large.Portfolio.Obs[k]) || small.Portfolio.Ratios[k] != large.Portfolio.Ratios[k] {
			t.Fatalf("product %d differs between K=%d and K=100", k, small.Portfolio.Len())
		}
	}
}

func TestRecordSeesThroughWrappers(t *testing.T) {
	x := &executor{exp: &Experiment{}}
	pol := baseline.BinUnits{Policy: named{Policy: &train.FinetunedPolicy{Last: &train.FinetuneResult{Steps: 7, BestStep: 5}}, name: "transformer-finetuned@default"}}
	r := x.record(Cell{Experiment: "E6", Method: "transformer-finetuned@default+bins"}, pol)
	if r.Backend == "none" || r.FinetuneSteps != 7 || r.BestStep != 5 {
		t.Errorf("record %+v: want the backend and the finetuning steps of the wrapped policy", r)
	}
}

// TestConcurrentRunsOnOneFileAreRefused: a second run of the same
// experiment and shard on the same folder is refused while the first
// holds the file (two processes used to keep one run's cells and lose the
// other's); other shards run beside it, and the lock goes with the run.
func TestConcurrentRunsOnOneFileAreRefused(t *testing.T) {
	dir := t.TempDir()
	e := cheap()
	path := RawPath(dir, e.Name, true, 0, 0)
	unlock, err := lockRaw(path) // the first process, mid-run
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(stdcontext.Background(), e, RunOptions{Quick: true, Dir: dir, MaxCells: 1})
	if err == nil || !strings.Contains(err.Error(), "being written by process") {
		t.Errorf("second run on the same file: %v", err)
	}
	if _, err := Run(stdcontext.Background(), e, RunOptions{Quick: true, Dir: dir, MaxCells: 1, Shard: 2, Shards: 3}); err != nil {
		t.Errorf("another shard beside a running one: %v", err)
	}
	unlock()
	if s, err := Run(stdcontext.Background(), e, RunOptions{Quick: true, Dir: dir, MaxCells: 1}); err != nil || s.Ran != 1 {
		t.Errorf("run after the first finished: %+v %v", s, err)
	}
}

// TestSuiteRunsEveryFamily: a small run of the benchmark suite covers
// every family with every method; SAA returns a constant product's
// constant exactly; the oracle's regret is zero where no true quantile is
// below zero; methods that cannot apply say why.
func TestSuiteRunsEveryFamily(t *testing.T) {
	res, err := RunSuite(SuiteOptions{Instances: []int{40}, Seeds: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cells) != len(Suite()) {
		t.Fatalf("%d cells for %d families", len(res.Cells), len(Suite()))
	}
	for _, c := range res.Cells {
		for _, m := range []string{"saa", "shrunken-saa", "transformer"} {
			if r := c.Regret[m]; len(r) != 1 || !(r[0] >= 0) {
				t.Errorf("%s: %s regret %v (%s)", c.Family, m, r, c.Errors[m])
			}
		}
		if r := c.Regret["oracle"][0]; !(r >= 0 && r < 0.05) {
			t.Errorf("%s: oracle regret %v", c.Family, r)
		}
		if strings.Contains(c.Family, "constant") && c.ConstantDeviation["saa"] != 0 {
			t.Errorf("%s: SAA moved a constant product by %v", c.Family, c.ConstantDeviation["saa"])
		}
		if math.IsNaN(c.Regret["bayes"][0]) && c.Errors["bayes"] == "" {
			t.Errorf("%s: no Bayes and no reason", c.Family)
		}
	}
	var buf bytes.Buffer
	if err := WriteSuite(&buf, res, "figures/suite-gap.png"); err != nil {
		t.Fatal(err)
	}
	if img, err := SuiteFigure(res, "png"); err != nil || len(img) < 1000 {
		t.Errorf("suite figure: %d bytes, %v", len(img), err)
	}
	for _, want := range []string{"Benchmark suite v" + SuiteVersion, "best classical", "default - Bayes", "Constant products", "Averaged over", "suite-gap.png"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("suite table lacks %q", want)
		}
	}
}

// With WholeUnits every day the methods see is a whole number: count
// families print the regrets of the unrounded run, Bayes-optimal
// included; where days move, the methods' regrets are those of the
// rounded days (SAA's differ from the unrounded run's), and "bayes" does
// not apply, saying why.
func TestSuiteWholeUnits(t *testing.T) {
	var families []SuiteFamily
	for _, f := range Suite() {
		if f.Name == "normal tight n=5 rho=0.9" || f.Name == "gamma-Poisson mean 3 n=5" || f.Name == "normal, gross errors n=5" {
			families = append(families, f)
		}
	}
	o := SuiteOptions{Instances: []int{40}, Seeds: 2, Families: families, Methods: []string{"saa", "eb", "transformer", "bayes", "oracle"}}
	exact, err := RunSuite(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.WholeUnits = true
	whole, err := RunSuite(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range whole.Cells {
		e := exact.Cells[i]
		counts := strings.HasPrefix(c.Family, "gamma-Poisson")
		for _, m := range o.Methods {
			same := slices.Equal(c.Regret[m], e.Regret[m])
			switch {
			case counts && !same:
				t.Errorf("%s: %s %v in whole units, %v before", c.Family, m, c.Regret[m], e.Regret[m])
			case !counts && m == "bayes":
				if !math.IsNaN(c.Regret[m][0]) || !strings.Contains(c.Errors[m], "whole units") {
					t.Errorf("%s: Bayes %v on rounded days (%q)", c.Family, c.Regret[m], c.Errors[m])
				}
			case !counts && m == "saa" && same:
				t.Errorf("%s: SAA's regret %v did not move with its days", c.Family, c.Regret[m])
			case !counts && m == "oracle" && !same:
				t.Errorf("%s: oracle %v, unrounded %v: the truths moved", c.Family, c.Regret[m], e.Regret[m])
			}
		}
		if r := c.Regret["transformer"]; len(r) != 2 || !(r[0] >= 0 && r[1] >= 0) {
			t.Errorf("%s: transformer %v (%s)", c.Family, c.Regret["transformer"], c.Errors["transformer"])
		}
	}
	var buf bytes.Buffer
	if err := WriteSuite(&buf, whole, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Benchmark suite, days recorded in whole units v" + SuiteVersion, "`--whole-units`", "Gross errors"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("whole-units table lacks %q", want)
		}
	}
}

// A method that decides a portfolio with gross errors but not the same
// portfolio without them (eb-negbinomial on gamma-Poisson counts seen
// once, 58% never selling: its prior of log means fits only with the
// errors) leaves its shift out, says why, and does not stop the run.
func TestSuiteErrorShiftOfAMethodThatFailsWithoutTheErrors(t *testing.T) {
	f := SuiteFamily{Name: "intermittent counts seen once, gross errors", Obs: prior.IntRange{Min: 1, Max: 1}, Ratio: 0.9,
		Prior: fixedPrior("test-gamma-poisson", prior.GammaPoisson, nil, 57.9, 1.01, 0), ZeroShare: 0.58, Contaminate: true}
	res, err := RunSuite(SuiteOptions{Instances: []int{100}, Seeds: 2, Seed: 1, Families: []SuiteFamily{f}, Methods: []string{"saa", "eb-negbinomial"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cells[0]
	shifts := c.ErrorShift["eb-negbinomial"]
	if !slices.ContainsFunc(shifts, math.IsNaN) || !strings.Contains(c.Errors["eb-negbinomial"], "without the gross errors") {
		t.Fatalf("eb-negbinomial: shifts %v, note %q; want a NaN and the reason", shifts, c.Errors["eb-negbinomial"])
	}
	var buf bytes.Buffer
	if err := WriteSuite(&buf, res, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "NaN") {
		t.Errorf("table prints NaN:\n%s", buf.String())
	}
}

// The stress families' portfolios are the two sales levels in turn, a
// smaller one the first products of a larger one; the model decides them
// level by level (model.ScaleGroups), and no suite family's portfolio is
// split. The stress table reports the lower level's regret, and no
// Bayes-optimal policy.
func TestStressFamiliesAreTwoLevelsInTurn(t *testing.T) {
	for fi, f := range StressFamilies() {
		small, err := f.Generate(uint64(fi), 10)
		if err != nil {
			t.Fatal(err)
		}
		env, err := f.Generate(uint64(fi), 100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range small.Portfolio.Obs {
			if !slices.Equal(small.Portfolio.Obs[i], env.Portfolio.Obs[i]) || small.Truth[i].Mean() != env.Truth[i].Mean() {
				t.Fatalf("%s: product %d of K = 10 is not that of K = 100", f.Name, i)
			}
		}
		g := model.ScaleGroups(env.Portfolio)
		if len(g) != 2 {
			t.Fatalf("%s: %d scale groups", f.Name, len(g))
		}
		for gi, idx := range g {
			for _, i := range idx {
				if lowerGroup(i) != (gi == 0) {
					t.Fatalf("%s: product %d in group %d", f.Name, i, gi)
				}
			}
		}
	}
	for fi, f := range Suite() {
		for s := range 3 {
			env, err := f.Generate(uint64(100*fi+s), 1000)
			if err != nil {
				t.Fatal(err)
			}
			if g := model.ScaleGroups(env.Portfolio); g != nil {
				t.Errorf("%s, seed %d: split into %d groups", f.Name, s, len(g))
			}
		}
	}
	res, err := RunSuite(SuiteOptions{Instances: []int{20}, Seeds: 1, Families: StressFamilies(), Title: "Stress families",
		Methods: []string{"saa", "npmle-log", "transformer", "bayes", "oracle"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSuite(&buf, res, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cells {
		if r := c.Lower["transformer"]; len(r) != 1 || !(r[0] >= 0) {
			t.Errorf("%s: lower-level regret %v", c.Family, r)
		}
		if !math.IsNaN(c.Regret["bayes"][0]) {
			t.Errorf("%s: a Bayes regret %v for a prior it does not know", c.Family, c.Regret["bayes"][0])
		}
	}
	for _, want := range []string{"Stress families v" + SuiteVersion, "lower level's products alone"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("stress table lacks %q", want)
		}
	}
	if strings.Contains(buf.String(), "NaN") || strings.Contains(buf.String(), "Constant products") {
		t.Errorf("stress table:\n%s", buf.String())
	}
}

// The outside families are new portfolios of the suite's kinds: names of
// their own, valid portfolios of the asked K and n, a known prior (Bayes
// computable) and exactly the asked shares of altered products.
func TestOutsideFamilies(t *testing.T) {
	names := map[string]bool{}
	for _, f := range Suite() {
		names[f.Name] = true
	}
	for _, f := range OutsideFamilies() {
		if names[f.Name] {
			t.Errorf("%q is a suite family's name, or repeated", f.Name)
		}
		names[f.Name] = true
		env, err := f.Generate(3, 50)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		p := env.Portfolio
		if err := p.Validate(); err != nil || p.Len() != 50 || len(env.Truth) != 50 {
			t.Fatalf("%s: %d instances, %d truths, %v", f.Name, p.Len(), len(env.Truth), err)
		}
		for _, o := range p.Obs {
			if len(o) < f.Obs.Min || len(o) > f.Obs.Max {
				t.Fatalf("%s: an instance of %d observations, want %d-%d", f.Name, len(o), f.Obs.Min, f.Obs.Max)
			}
		}
		pol, err := Method("bayes", MethodOptions{Env: env})
		if err != nil {
			t.Fatalf("%s: no Bayes policy: %v", f.Name, err)
		}
		if _, err := baseline.Decide(pol, p); err != nil {
			t.Fatalf("%s: Bayes: %v", f.Name, err)
		}
	}
}

// TestZeroInflatedBayesAndNPMLE: on the suite's intermittent family
// (40% of products never sell) the zero-inflated gamma-Poisson Bayes policy
// beats every data-driven method, the Poisson NPMLE, which can put
// mass on lambda = 0, is within 2 points of it, and the zero-inflated
// gamma-Poisson EB within half a point.
func TestZeroInflatedBayesAndNPMLE(t *testing.T) {
	var fam SuiteFamily
	for _, f := range Suite() {
		if f.ZeroShare > 0 {
			fam = f
		}
	}
	env, err := fam.Generate(3, 2000)
	if err != nil {
		t.Fatal(err)
	}
	regret := func(name string) float64 {
		pol, err := Method(name, MethodOptions{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		q, err := baseline.Decide(pol, env.Portfolio)
		if err != nil {
			t.Fatal(err)
		}
		r, err := problem.Evaluate(problem.Newsvendor{}, env.Truth, env.Portfolio.Ratios, q)
		if err != nil {
			t.Fatal(err)
		}
		return r.Regret
	}
	bayes := regret("bayes")
	for _, m := range []string{"saa", "eb-gamma-poisson", "npmle-poisson", "shrunken-saa", "eb-zi-gamma-poisson"} {
		if r := regret(m); r < bayes-0.002 {
			t.Errorf("%s regret %.4f below Bayes-optimal %.4f", m, r, bayes)
		}
	}
	if r := regret("npmle-poisson"); r > bayes+0.02 {
		t.Errorf("npmle-poisson regret %.4f, more than 2 points above Bayes %.4f", r, bayes)
	}
	// The family is eb-zi-gamma-poisson's model: it is Bayes but for
	// three estimated numbers.
	if r := regret("eb-zi-gamma-poisson"); r < bayes-0.002 || r > bayes+0.005 {
		t.Errorf("eb-zi-gamma-poisson regret %.4f, Bayes %.4f", r, bayes)
	}
}

// The README's out-of-suite checks run on the prior files in priors/: each
// must load, be noise-free, and fix every parameter, as the README says.
func TestOutsidePriorFiles(t *testing.T) {
	files, err := filepath.Glob("priors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no prior files in priors/: %v", err)
	}
	for _, f := range files {
		p, err := prior.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		fixed := p.Level.Min == p.Level.Max && p.Spread.Min == p.Spread.Max && p.CV.Min == p.CV.Max &&
			p.Ratio.Min == p.Ratio.Max && p.Obs.Min == p.Obs.Max && p.Instances.Min == p.Instances.Max
		if !fixed || p.Noise.Max != 0 || p.Kind == prior.Blend {
			t.Errorf("%s: not a single noise-free environment with fixed parameters: %+v", f, p)
		}
	}
}

// A table says how many seeds its raw results hold, and the command that
// wrote them, where `ptft run --seeds` added replicates to the grid's.
func TestReportCountsTheSeedsItsResultsHold(t *testing.T) {
	ctx := stdcontext.Background()
	e := cheap()
	dir, out := t.TempDir(), t.TempDir()
	seeds := e.Quick.Seeds + 2
	if _, err := Run(ctx, e, RunOptions{Quick: true, Dir: dir, Seeds: seeds}); err != nil {
		t.Fatal(err)
	}
	if _, err := Report(e, ReportOptions{RawDir: dir, OutDir: out, Quick: true, NoPNG: true}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "E1-quick.md"))
	for _, want := range []string{fmt.Sprintf("`ptft run E1 --quick --seeds %d`", seeds), fmt.Sprintf("], %d seeds", seeds)} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("table without %q:\n%s", want, md[:min(len(md), 600)])
		}
	}
}
