package prior

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

func render(t *testing.T, env *Environment) []byte {
	t.Helper()
	dir := t.TempDir()
	obs, truth := filepath.Join(dir, "obs.csv"), filepath.Join(dir, "truth.json")
	if err := data.WriteObservationsFile(obs, env.Portfolio); err != nil {
		t.Fatal(err)
	}
	if err := data.WriteTruthFile(truth, env.TruthFile("newsvendor", provenance.Record{Seed: env.Seed})); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(obs)
	b, _ := os.ReadFile(truth)
	return append(a, b...)
}

func TestSameSeedSameEnvironmentByteForByte(t *testing.T) {
	for _, p := range Builtin() {
		a, err := p.Generate(42, Options{Instances: 50})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p.Generate(42, Options{Instances: 50})
		c, _ := p.Generate(43, Options{Instances: 50})
		if !bytes.Equal(render(t, a), render(t, b)) {
			t.Errorf("%s: same seed gave different files", p.Name)
		}
		if bytes.Equal(render(t, a), render(t, c)) {
			t.Errorf("%s: different seeds gave the same files", p.Name)
		}
		if err := a.Portfolio.Validate(); err != nil {
			t.Errorf("%s: generated portfolio invalid: %v", p.Name, err)
		}
	}
}

func TestGenerateHonoursRanges(t *testing.T) {
	p, err := Lookup("mixed-managerial")
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(30) {
		env, err := p.Generate(seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		k := env.Portfolio.Len()
		if k < p.Instances.Min || k > p.Instances.Max {
			t.Errorf("K = %d outside [%d, %d]", k, p.Instances.Min, p.Instances.Max)
		}
		for i, obs := range env.Portfolio.Obs {
			if len(obs) < p.Obs.Min || len(obs) > p.Obs.Max {
				t.Fatalf("n_k = %d outside range", len(obs))
			}
			if r := env.Portfolio.Ratios[i]; r < p.Ratio.Min || r > p.Ratio.Max {
				t.Fatalf("ratio %v outside range", r)
			}
		}
		for _, h := range []string{"level", "spread", "cv", "noise"} {
			if _, ok := env.Hyper[h]; !ok {
				t.Errorf("hyperparameter %s not recorded", h)
			}
		}
	}
}

func TestPriorFileRoundTripAndValidation(t *testing.T) {
	p, _ := Lookup("truth-noisy")
	raw, _ := json.Marshal(p)
	path := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(path, raw, 0o644)
	q, err := Lookup(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Generate(1, Options{Instances: 20})
	b, _ := q.Generate(1, Options{Instances: 20})
	if !bytes.Equal(render(t, a), render(t, b)) {
		t.Error("prior loaded from JSON generates differently")
	}
	bad := *p
	bad.Ratio = Range{Min: 0.5, Max: 1}
	if err := bad.Validate(); err == nil {
		t.Error("ratio range reaching 1 accepted")
	}
	bad = *p
	bad.Families = []string{"weibull"}
	if err := bad.Validate(); err == nil {
		t.Error("unknown family accepted")
	}
	if _, err := Lookup("no-such-prior"); err == nil {
		t.Error("unknown prior accepted")
	}
	if _, err := p.Generate(1, Options{Ratio: 1.2}); err == nil {
		t.Error("ratio override outside (0,1) accepted")
	}
}

func TestBlendAndAlterationsValidate(t *testing.T) {
	b, err := Lookup("broad")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(p *Prior)
	}{
		{"no components", func(p *Prior) { p.Components = nil }},
		{"bad component", func(p *Prior) { p.Components = []*Prior{{Name: "x", Version: "1", Kind: "nope"}} }},
		{"chance above 1", func(p *Prior) { p.Zeros = &Alteration{Chance: 1.5, Share: Fixed(0.1)} }},
		{"share above 1", func(p *Prior) { p.Constants = &Alteration{Chance: 1, Share: Fixed(1.5)} }},
		{"gross factor below 1", func(p *Prior) { p.GrossErrors = &Alteration{Chance: 1, Share: Fixed(0.01), Factor: Fixed(0.5)} }},
	} {
		p := *b
		c.edit(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: validated", c.name)
		}
	}
}

// Every blend environment comes from one of its components, and the
// alterations do what they say: products that never sell observe zeros
// and have a point mass at zero, constant products observe their
// constant, gross errors are the stated multiple of the mean.
func TestBlendAlterations(t *testing.T) {
	comp, err := Lookup("normal-normal")
	if err != nil {
		t.Fatal(err)
	}
	p := &Prior{Name: "b", Version: "1", Kind: Blend, Components: []*Prior{comp},
		Instances: IntRange{Min: 400, Max: 400}, Obs: IntRange{Min: 5, Max: 5}, Ratio: Fixed(0.9),
		Zeros:       &Alteration{Chance: 1, Share: Fixed(0.2)},
		Constants:   &Alteration{Chance: 1, Share: Fixed(0.1)},
		GrossErrors: &Alteration{Chance: 1, Share: Fixed(0.005), Factor: Fixed(50)},
	}
	env, err := p.Generate(7, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if env.Prior != comp || env.Hyper["zero_share"] != 0.2 || env.Hyper["constant_share"] != 0.1 ||
		env.Hyper["gross_rate"] != 0.005 || env.Hyper["gross_factor"] != 50 {
		t.Fatalf("environment: prior %q, hyper %v", env.Prior.Name, env.Hyper)
	}
	zeros, consts, gross := 0, 0, 0
	for i, o := range env.Portfolio.Obs {
		sup := env.Truth[i].Quantile(0.01) == env.Truth[i].Quantile(0.99)
		allEqual := true
		for _, x := range o {
			allEqual = allEqual && x == o[0]
			if x > 10*env.Hyper["mu0"] {
				gross++
			}
		}
		switch {
		case sup && env.Truth[i].Mean() == 0:
			zeros++
		case sup && allEqual:
			consts++
		}
	}
	// 400 products: about 80 never sell and 32 are constant; 10 gross
	// errors among 2,000 observations.
	if zeros < 50 || zeros > 110 || consts < 15 || consts > 50 || gross != 10 {
		t.Fatalf("zeros %d, constants %d, gross errors %d", zeros, consts, gross)
	}
}

// A blend prior with alterations written as JSON loads back to the same
// generator.
func TestBlendJSONRoundTrip(t *testing.T) {
	b, err := Lookup("broad")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "broad.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(20) {
		x, _ := b.Generate(seed, Options{Instances: 40})
		y, _ := c.Generate(seed, Options{Instances: 40})
		if !bytes.Equal(render(t, x), render(t, y)) {
			t.Fatalf("seed %d: the loaded prior generates differently", seed)
		}
	}
}

// The default model's prior must hold noise-free portfolios of every
// managerial family (the benchmark suite's kind) as well as noisy ones:
// version 1 had noise in all of them.
func TestBroadHoldsNoiseFreeAndNoisyManagerial(t *testing.T) {
	b, err := Lookup("broad")
	if err != nil {
		t.Fatal(err)
	}
	clean, noisy := map[string]int{}, map[string]int{}
	for seed := uint64(1); seed <= 400; seed++ {
		env, err := b.Generate(seed, Options{Instances: 20, Obs: IntRange{Min: 2, Max: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if env.Prior.Kind != Managerial {
			continue
		}
		fam := Families[int(env.Hyper["family_index"])]
		if env.Hyper["noise"] == 0 {
			clean[fam]++
		} else {
			noisy[fam]++
		}
	}
	for _, fam := range Families {
		if clean[fam] == 0 || noisy[fam] == 0 {
			t.Errorf("%s: %d noise-free and %d noisy managerial environments in 400 draws", fam, clean[fam], noisy[fam])
		}
	}
}
