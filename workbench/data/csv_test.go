package data

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReadObservations(t *testing.T) {
	in := "instance,value,critical_ratio\nb,3,0.8\na,1.5,0.6\nb,4,0.8\n\"x,y\",0,0.5\n"
	p, err := ReadObservations(strings.NewReader(in), "obs.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.IDs, []string{"b", "a", "x,y"}) {
		t.Errorf("ids %v", p.IDs)
	}
	if !slices.Equal(p.Obs[0], []float64{3, 4}) || !slices.Equal(p.Ratios, []float64{0.8, 0.6, 0.5}) {
		t.Errorf("obs %v ratios %v", p.Obs, p.Ratios)
	}
	// Without the ratio column the default applies; extra columns are ignored.
	p, err = ReadObservations(strings.NewReader("date,value,instance\nd1,2,s1\n"), "x", 0.9)
	if err != nil || p.Ratios[0] != 0.9 {
		t.Fatalf("default ratio: %v %v", p, err)
	}
}

func TestReadObservationsErrorsNameFileLineInstance(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty file"},
		{"id,value\na,1\n", "lacks column"},
		{"instance,amount\na,1\n", "lacks column"},
		{"instance,value\na,1\nb,x\n", `obs.csv:3: instance "b": value "x" is not a number`},
		{"instance,value\na,NaN\n", `obs.csv:2: instance "a": value NaN is not a finite number`},
		{"instance,value\na,+Inf\n", `obs.csv:2: instance "a": value +Inf is not a finite number`},
		{"instance,value\na,-2\n", `obs.csv:2: instance "a": value -2 is negative`},
		{"instance,value\n,2\n", "obs.csv:2: empty instance id"},
		{"instance,value\na\n", "obs.csv:2: 1 fields"},
		{"instance,value,critical_ratio\na,1,1.5\n", `obs.csv:2: instance "a": critical ratio 1.5 outside (0,1)`},
		{"instance,value,critical_ratio\na,1,0\n", `obs.csv:2: instance "a": critical ratio 0 outside (0,1)`},
		{"instance,value,critical_ratio\na,1,0.5\na,2,0.6\n", `obs.csv:3: instance "a": critical_ratio 0.6 differs`},
		{"instance,value,critical_ratio\na,1,high\n", `obs.csv:2: instance "a": critical_ratio "high" is not a number`},
		{"instance,value\na,1\n", `instance "a" has no critical ratio`},
		{"instance,value\n", "no observations"},
		{"instance,value\n\"a,1\n", "obs.csv"},
		{"instance,instance,value,critical_ratio\na,b,1,0.5\n", `obs.csv:1: column "instance" appears twice in the header (columns 1 and 2)`},
		{"instance,value,value\na,1,2\n", `obs.csv:1: column "value" appears twice`},
		{"instance,value,critical_ratio,critical_ratio\na,1,0.5,0.6\n", `obs.csv:1: column "critical_ratio" appears twice`},
	}
	for _, c := range cases {
		_, err := ReadObservations(strings.NewReader(c.in), "obs.csv", 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q: error %v, want it to contain %q", c.in, err, c.want)
		}
	}
	if _, err := ReadObservations(strings.NewReader("instance,value\na,1\n"), "obs.csv", 1); err == nil {
		t.Error("default ratio 1 accepted")
	}
}

// TestWriteDecisionsRefusesNonFinite: no NaN, infinite or negative
// quantity reaches a decisions file, and nothing is written.
func TestWriteDecisionsRefusesNonFinite(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []float64{math.NaN(), math.Inf(1), -1} {
		path := filepath.Join(dir, "q.csv")
		err := WriteDecisionsFile(path, []string{"a", "b"}, []float64{1, bad})
		if err == nil || !strings.Contains(err.Error(), `instance "b"`) {
			t.Errorf("decision %v: error %v, want one naming instance b", bad, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("decision %v: file written", bad)
		}
	}
}

func TestDecisionsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.csv")
	ids, q := []string{"p1", "p 2", `q"3`}, []float64{1.25, 0, 1e6}
	if err := WriteDecisionsFile(path, ids, q); err != nil {
		t.Fatal(err)
	}
	byID, order, err := ReadDecisionsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"p1", "p 2", `q"3`}) || byID["p 2"] != 0 || byID["q\"3"] != 1e6 {
		t.Errorf("round trip: %v %v", order, byID)
	}
	os.WriteFile(path, []byte("instance,quantity\na,1\na,2\n"), 0o644)
	if _, _, err := ReadDecisionsFile(path); err == nil || !strings.Contains(err.Error(), ":3:") {
		t.Errorf("duplicate decision: %v", err)
	}
}

func TestWriteFileAtomicLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		io.WriteString(w, "half a file")
		return errors.New("disk on fire")
	})
	if err == nil {
		t.Fatal("error swallowed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
	// An existing file is replaced only on success.
	os.WriteFile(path, []byte("old"), 0o644)
	WriteFileAtomic(path, func(w io.Writer) error { return errors.New("fail") })
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("failed write clobbered the existing file: %q", b)
	}
}

func TestPortfolioValidate(t *testing.T) {
	p := &Portfolio{Source: "mem", IDs: []string{"a", "b"}, Obs: [][]float64{{1}, {}}, Ratios: []float64{0.5, 0.5}}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `instance "b" has no observations`) {
		t.Errorf("empty instance: %v", err)
	}
	if err := (&Portfolio{}).Validate(); err == nil {
		t.Error("empty portfolio accepted")
	}
}

func FuzzReadObservations(f *testing.F) {
	f.Add("instance,value\na,1\nb,2.5\n", 0.5)
	f.Add("instance,value,critical_ratio\na,1,0.9\na,3,0.9\n", 0.0)
	f.Add("value,instance\n1e300,\"x,y\"\n", 0.3)
	f.Add("instance,value\na,NaN\n", 0.5)
	f.Fuzz(func(t *testing.T, in string, ratio float64) {
		p, err := ReadObservations(strings.NewReader(in), "fuzz.csv", ratio)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted input fails validation: %v", err)
		}
		path := filepath.Join(t.TempDir(), "o.csv")
		if err := WriteObservationsFile(path, p); err != nil {
			t.Fatal(err)
		}
		back, err := ReadObservationsFile(path, 0)
		if err != nil {
			t.Fatalf("re-reading what we wrote: %v", err)
		}
		if !slices.Equal(back.IDs, p.IDs) || !slices.Equal(back.Ratios, p.Ratios) {
			t.Fatalf("round trip changed ids or ratios")
		}
		for k := range p.Obs {
			if !slices.Equal(back.Obs[k], p.Obs[k]) {
				t.Fatalf("round trip changed instance %q", p.IDs[k])
			}
		}
	})
}

func TestPortfolioSubset(t *testing.T) {
	p := &Portfolio{Source: "s", IDs: []string{"a", "b", "c"}, Obs: [][]float64{{1}, {2, 3}, {4}}, Ratios: []float64{0.1, 0.2, 0.3},
		Support: [][]float64{{0, 1}, {0, 2}, {0, 3}}, CostWeights: []float64{1, 2, 3}}
	sub := p.Subset([]int{2, 0})
	want := &Portfolio{Source: "s", IDs: []string{"c", "a"}, Obs: [][]float64{{4}, {1}}, Ratios: []float64{0.3, 0.1},
		Support: [][]float64{{0, 3}, {0, 1}}, CostWeights: []float64{3, 1}}
	if !reflect.DeepEqual(sub, want) {
		t.Fatalf("subset %+v, want %+v", sub, want)
	}
	if sub := (&Portfolio{IDs: []string{"a"}, Obs: [][]float64{{1}}, Ratios: []float64{0.5}}).Subset([]int{0}); sub.Support != nil || sub.CostWeights != nil {
		t.Fatalf("subset of a portfolio without supports or weights: %+v", sub)
	}
}
