package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

func testPortfolio(seed uint64, k, maxN int) *data.Portfolio {
	rng := rand.New(rand.NewPCG(seed, 9))
	p := &data.Portfolio{Source: "test"}
	for i := range k {
		n := 1 + rng.IntN(maxN)
		mu := 50 + 20*rng.NormFloat64()
		obs := make([]float64, n)
		for j := range obs {
			obs[j] = max(0, mu+10*rng.NormFloat64())
		}
		p.IDs = append(p.IDs, strconv.Itoa(i))
		p.Obs = append(p.Obs, obs)
		p.Ratios = append(p.Ratios, 0.3+0.6*rng.Float64())
	}
	return p
}

// randomised makes the head non-trivial (it starts at zero) so the
// properties below test the whole network, not the plug-in base.
func randomised(t *testing.T, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Decide(testPortfolio(1, 3, 3)); err != nil {
		t.Fatal(err)
	}
	perturb(m, rand.New(rand.NewPCG(3, 3)), 0.5, func(name string) bool { return strings.HasSuffix(name, "head_2/weights") })
	return m
}

func decide(t *testing.T, m *Model, p *data.Portfolio) []float64 {
	t.Helper()
	q, err := m.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func closeAll(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol*max(1, math.Abs(want[i])) {
			t.Fatalf("%s: instance %d: %v vs %v", what, i, got[i], want[i])
		}
	}
}

func configs() map[string]Config {
	full := DefaultConfig()
	ind := DefaultConfig()
	ind.Inducing = 8
	ex := ind
	ex.Experts = true
	return map[string]Config{"full": full, "inducing": ind, "experts": ex}
}

func TestPermutingInstancesPermutesDecisions(t *testing.T) {
	for name, cfg := range configs() {
		m := randomised(t, cfg)
		p := testPortfolio(2, 40, 6)
		q := decide(t, m, p)
		perm := rand.New(rand.NewPCG(5, 5)).Perm(p.Len())
		pp := &data.Portfolio{}
		for _, i := range perm {
			pp.IDs = append(pp.IDs, p.IDs[i])
			pp.Obs = append(pp.Obs, p.Obs[i])
			pp.Ratios = append(pp.Ratios, p.Ratios[i])
		}
		qp := decide(t, m, pp)
		want := make([]float64, len(perm))
		for j, i := range perm {
			want[j] = q[i]
		}
		closeAll(t, name+" permuted instances", qp, want, 1e-5)
	}
}

func TestPermutingObservationsChangesNothing(t *testing.T) {
	for name, cfg := range configs() {
		m := randomised(t, cfg)
		p := testPortfolio(3, 30, 8)
		q := decide(t, m, p)
		pp := *p
		pp.Obs = slices.Clone(p.Obs)
		for k := range pp.Obs {
			o := slices.Clone(p.Obs[k])
			slices.Reverse(o)
			pp.Obs[k] = o
		}
		closeAll(t, name+" permuted observations", decide(t, m, &pp), q, 1e-5)
	}
}

func TestScaleEquivariance(t *testing.T) {
	for name, cfg := range configs() {
		m := randomised(t, cfg)
		p := testPortfolio(4, 30, 6)
		q := decide(t, m, p)
		pp := *p
		pp.Obs = nil
		for _, o := range p.Obs {
			s := make([]float64, len(o))
			for i, x := range o {
				s[i] = 37.5 * x
			}
			pp.Obs = append(pp.Obs, s)
		}
		qs := decide(t, m, &pp)
		for i := range q {
			q[i] *= 37.5
		}
		closeAll(t, name+" scaled by 37.5", qs, q, 1e-5)
	}
}

func TestPaddingDoesNotChangeDecisions(t *testing.T) {
	for name, cfg := range configs() {
		m := randomised(t, cfg)
		m.FullStrength = true // the network's padding, not Decide's selection
		p := testPortfolio(5, 20, 5)
		q := decide(t, m, p)
		// The same portfolio padded to K=64, N=12 inside a batch beside another.
		bt := m.NewBatch([]*data.Portfolio{testPortfolio(6, 50, 12), p}, 64, 12)
		out, err := m.Predict(bt)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, p.Len())
		for i := range got {
			got[i] = max(0, float64(out[64+i])*bt.Scale[64+i])
		}
		closeAll(t, name+" padded", got, q, 1e-5)
	}
}

func TestHeadStartsAtNormalPlugIn(t *testing.T) {
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	p := testPortfolio(7, 25, 6)
	bt := NewBatch([]*data.Portfolio{p}, 0, 0)
	q, err := m.Predict(bt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.IDs {
		want := bt.Head[3*i] + bt.Head[3*i+1]*bt.Head[3*i+2]
		if math.Abs(float64(q[i]-want)) > 1e-5 {
			t.Fatalf("instance %d at init: %v, plug-in %v", i, q[i], want)
		}
	}
}

// An untrained experts model orders the experts' mixture weighted by
// exp(-cvGateScale cv), and
// an instance with equal observations in non-integer data exactly that
// value.
func TestExpertsHeadStartsAtTheMean(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Experts, cfg.Inducing = true, 4
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := testPortfolio(7, 25, 6)
	p.Obs[3] = []float64{5, 5, 5, 5}
	bt := m.NewBatch([]*data.Portfolio{p}, 0, 0)
	q, err := m.Predict(bt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.IDs {
		hd := bt.Head[i*bt.H : (i+1)*bt.H]
		want := crossValidatedMixture(bt, i)
		if math.Abs(float64(q[i]-want)) > 1e-5*max(1, math.Abs(float64(want))) {
			t.Fatalf("instance %d at init: %v, want %v (head %v)", i, q[i], want, hd)
		}
		if (i == 3) != (hd[3] == 1) || hd[2] != 0 {
			t.Fatalf("instance %d: constant flags %v", i, hd[2:4])
		}
		if i == 3 && math.Abs(float64(q[i])*bt.Scale[i]-5) > 1e-4 {
			t.Fatalf("constant instance ordered %v, want 5", float64(q[i])*bt.Scale[i])
		}
	}
}

func TestSaveLoadRoundTripAndCorruption(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Inducing = 4
	m := randomised(t, cfg)
	m.Meta.Prior = "normal-normal"
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := testPortfolio(8, 30, 5)
	closeAll(t, "reloaded", decide(t, back, p), decide(t, m, p), 0)
	if back.Meta.Prior != "normal-normal" || back.Config != cfg {
		t.Errorf("meta not restored: %+v", back.Meta)
	}
	// Every variable of a new model is the model's, and after loading only
	// the model's variables are trainable.
	for v := range m.Context().IterVariables() {
		if !IsModelVariable(v.ScopeAndName()) {
			t.Errorf("new model's variable %s not recognised as the model's", v.ScopeAndName())
		}
	}
	for _, name := range []string{"/global_step", "/AdamOptimizer/block_0/mlp_1/weights/m", "/optimizers/learning_rate", "/metrics/x/mean", "/trainer/t"} {
		if IsModelVariable(name) {
			t.Errorf("%s taken for a model variable", name)
		}
	}
	for v := range back.Context().IterVariables() {
		if v.Trainable != IsModelVariable(v.ScopeAndName()) {
			t.Errorf("loaded %s: trainable %v", v.ScopeAndName(), v.Trainable)
		}
	}
	w := filepath.Join(dir, WeightsFile)
	raw, _ := os.ReadFile(w)
	raw[len(raw)/2] ^= 0xff
	os.WriteFile(w, raw, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupt weights: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
	// An edit of the metadata (the digest covers it, not only the weights).
	m2 := randomised(t, DefaultConfig())
	dir2 := t.TempDir()
	m2.Save(dir2)
	metaPath := filepath.Join(dir2, MetaFile)
	meta, _ := os.ReadFile(metaPath)
	for _, edit := range [][2]string{{`"width": 64`, `"width": 32`}, {`"seed": 7`, `"seed": 8`}, {`"steps": 0`, `"steps": 3000`}} {
		if !strings.Contains(string(meta), edit[0]) {
			t.Fatalf("%s not in %s", edit[0], meta)
		}
		os.WriteFile(metaPath, []byte(strings.Replace(string(meta), edit[0], edit[1], 1)), 0o644)
		if _, err := Load(dir2); err == nil || !strings.Contains(err.Error(), "edited") {
			t.Errorf("metadata edit %s -> %s: %v", edit[0], edit[1], err)
		}
	}
	os.WriteFile(metaPath, []byte(strings.Replace(string(meta), "{", `{"comment": "x",`, 1)), 0o644)
	if _, err := Load(dir2); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("unknown field added: %v", err)
	}
	// Architecture mismatch: a consistent file whose architecture does not
	// fit its weights.
	m2.Config.Width = 32
	if err := m2.Save(dir2); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir2); err == nil || !strings.Contains(err.Error(), "architecture") {
		t.Errorf("architecture mismatch: %v", err)
	}
	// Variables are saved in name order, whatever order they were made in.
	var names []string
	for _, v := range back.Meta.Variables {
		names = append(names, v.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("variables not saved in name order: %v", names)
	}
}

// TestAdaptersAtZeroChangeNothing: adding low-rank adapters (B starts at
// zero) leaves every decision as it was.
func TestAdaptersAtZeroChangeNothing(t *testing.T) {
	for name, cfg := range configs() {
		m := randomised(t, cfg)
		p := testPortfolio(9, 40, 6)
		before := decide(t, m, p)
		if err := m.EnableAdapters(3); err != nil {
			t.Fatal(err)
		}
		after := decide(t, m, p)
		adapters := 0
		for v := range m.Context().IterVariables() {
			if strings.HasSuffix(v.ScopeAndName(), AdapterB) {
				adapters++
			}
		}
		if adapters == 0 {
			t.Fatalf("%s: no adapters were created", name)
		}
		closeAll(t, name+" with adapters", after, before, 1e-6)
	}
}

// TestNoCrossAttentionDecidesFromOwnDataAlone: with the ablation's option
// a product's decision depends on its own observations only: changing
// every other product (their values, their number, the portfolio's
// level) leaves it unchanged. An untrained model with the option moved
// one product's decision from 12.4 to 104.3 when only the other products'
// data changed, through the portfolio's scale and pooled features.
func TestNoCrossAttentionDecidesFromOwnDataAlone(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NoCrossAttention = true
	m := randomised(t, cfg)
	p := testPortfolio(10, 30, 6)
	q := decide(t, m, p)
	others := testPortfolio(11, 80, 9)
	for k := range others.Obs {
		for i := range others.Obs[k] {
			others.Obs[k][i] *= 9
		}
	}
	pp := &data.Portfolio{IDs: append([]string{p.IDs[0]}, others.IDs...), Obs: append([][]float64{p.Obs[0]}, others.Obs...),
		Ratios: append([]float64{p.Ratios[0]}, others.Ratios...)}
	for i := range pp.IDs[1:] {
		pp.IDs[i+1] = "other-" + pp.IDs[i+1]
	}
	qq := decide(t, m, pp)
	if math.Abs(qq[0]-q[0]) > 1e-6*max(1, q[0]) {
		t.Errorf("product 0: %v beside its own portfolio, %v beside others", q[0], qq[0])
	}
	// And with cross-instance attention the others do matter.
	full := randomised(t, DefaultConfig())
	if a, b := decide(t, full, p)[0], decide(t, full, pp)[0]; math.Abs(a-b) < 1e-6*max(1, a) {
		t.Errorf("with attention, product 0's decision ignored the other products (%v, %v)", a, b)
	}
}

// A batch of several portfolios, laid out concurrently, holds in each
// portfolio's rows exactly what a batch of that portfolio alone holds.
func TestBatchOfPortfoliosMatchesEachAlone(t *testing.T) {
	for name, cfg := range configs() {
		m := randomised(t, cfg)
		var ps []*data.Portfolio
		for s := range 6 {
			ps = append(ps, testPortfolio(uint64(20+s), 10+7*s, 8))
		}
		k, n := 48, 8
		all := m.NewTrainingBatch(ps, k, n)
		for bi, p := range ps {
			one := m.NewTrainingBatch([]*data.Portfolio{p}, k, n)
			same := all.Sizes[bi] == one.Sizes[0] &&
				slices.Equal(all.Obs[bi*k*n*2:(bi+1)*k*n*2], one.Obs) &&
				slices.Equal(all.ObsMask[bi*k*n:(bi+1)*k*n], one.ObsMask) &&
				slices.Equal(all.Inst[bi*k:(bi+1)*k], one.Inst) &&
				slices.Equal(all.Feats[bi*k*all.F:(bi+1)*k*all.F], one.Feats) &&
				slices.Equal(all.Head[bi*k*all.H:(bi+1)*k*all.H], one.Head) &&
				slices.Equal(all.Scale[bi*k:(bi+1)*k], one.Scale)
			if !same {
				t.Errorf("%s: portfolio %d's rows differ from its own batch's", name, bi)
			}
		}
	}
}
