package model

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
)

// randomisedSeed is randomised with its own initial and head weights per
// seed, so that two such models decide differently.
func randomisedSeed(t *testing.T, cfg Config, seed uint64) *Model {
	t.Helper()
	m, err := New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	perturb(m, rand.New(rand.NewPCG(seed, 3)), 0.5, func(name string) bool {
		return strings.HasSuffix(name, "head_2/weights") || strings.HasSuffix(name, "head_scale/weights")
	})
	return m
}

func scaled(t *testing.T, m *Model, p *data.Portfolio) []float64 {
	t.Helper()
	q, err := m.Predict(m.NewBatch([]*data.Portfolio{p}, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, p.Len())
	for i := range out {
		out[i] = float64(q[i])
	}
	return out
}

// TestEnsembleDecidesTheMembersMean: an ensemble's output is the mean of
// its members' (before the floor at zero), laid out whole and streamed,
// for every layout; the members are left as they were.
func TestEnsembleDecidesTheMembersMean(t *testing.T) {
	for name, cfg := range configs() {
		a, b, c := randomisedSeed(t, cfg, 1), randomisedSeed(t, cfg, 2), randomisedSeed(t, cfg, 3)
		p := testPortfolio(21, 150, 8)
		qa, qb, qc := scaled(t, a, p), scaled(t, b, p), scaled(t, c, p)
		if maxRelDiff(qa, qb) < 1e-3 {
			t.Fatalf("%s: the two members decide alike; the test needs different ones", name)
		}
		e, err := Ensemble(a, b, c)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, p.Len())
		for i := range want {
			want[i] = (qa[i] + qb[i] + qc[i]) / 3
		}
		closeAll(t, name+" whole", scaled(t, e, p), want, 1e-5)
		whole := decide(t, e, p)
		e.forceStream = 40
		if d := maxRelDiff(decide(t, e, p), whole); d > streamTolerance {
			t.Errorf("%s: streamed ensemble decisions differ from whole by %.3g relative", name, d)
		}
		closeAll(t, name+" member a after", scaled(t, a, p), qa, 0)
		if e.Config.Members != 3 || len(e.Meta.Members) != 3 || e.Meta.Members[1].Seed != 2 {
			t.Errorf("%s: config %+v, members %+v", name, e.Config, e.Meta.Members)
		}
	}
}

// TestEnsembleSavesLoadsAndGroups: an ensemble round-trips through Save
// and Load, and its members' variables fall in the same groups as a
// single model's.
func TestEnsembleSavesLoadsAndGroups(t *testing.T) {
	cfg := configs()["experts"]
	a, b := randomisedSeed(t, cfg, 1), randomisedSeed(t, cfg, 2)
	e, err := Ensemble(a, b)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := e.Save(dir); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := testPortfolio(22, 40, 5)
	closeAll(t, "loaded", decide(t, l, p), decide(t, e, p), 0)
	groups := map[Group]int{}
	for v := range l.ctx.IterVariables() {
		name := v.ScopeAndName()
		g := l.GroupOf(name)
		if strings.HasPrefix(name, "/member_1/") {
			if want := a.GroupOf(strings.TrimPrefix(name, "/member_1")); g != want || g == NotModel {
				t.Errorf("%s: group %d, the single model's %d", name, g, want)
			}
			groups[g]++
		}
	}
	for _, g := range []Group{Encoder, Block, LastBlock, Head} {
		if groups[g] == 0 {
			t.Errorf("member 1 has no variable in group %d: %v", g, groups)
		}
	}
}

func TestEnsembleRefusesBadMembers(t *testing.T) {
	cfg := configs()["experts"]
	a, b := randomisedSeed(t, cfg, 1), randomisedSeed(t, cfg, 2)
	other := randomisedSeed(t, configs()["inducing"], 3)
	e, err := Ensemble(a, b)
	if err != nil {
		t.Fatal(err)
	}
	unfinished := randomisedSeed(t, cfg, 4)
	unfinished.Meta.Steps, unfinished.Meta.TargetSteps = 10, 20
	for what, members := range map[string][]*Model{
		"at least two": {a}, "architecture": {a, other}, "itself an ensemble": {e, a}, "unfinished": {a, unfinished},
	} {
		if _, err := Ensemble(members...); err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: error %v", what, err)
		}
	}
}
