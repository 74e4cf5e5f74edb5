package rossmann

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptft-lab/ptft/workbench/baseline"
)

// testData loads the Rossmann folder from PTFT_DATA or the shared/ folder
// beside the repository; it skips when absent, except under CI.
func testData(t *testing.T) *Data {
	t.Helper()
	dir, err := ResolveDir("")
	if err != nil {
		dir = filepath.Join("..", "..", "..", "shared", "data", "rossmann")
	}
	if _, err := os.Stat(filepath.Join(dir, SupportFile)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Rossmann data not found at %s (set PTFT_DATA)", dir)
		}
		t.Skipf("Rossmann data not found at %s; set PTFT_DATA to run this test", dir)
	}
	d, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoadCrossChecksFullHistory(t *testing.T) {
	d := testData(t)
	if len(d.Stores) != 1115 || d.Bins() != 20 {
		t.Fatalf("%d stores, %d bins; want 1115 and 20", len(d.Stores), d.Bins())
	}
	// ps_full is each store's bin frequency over its observed days.
	for s, days := range d.Days {
		counts := make([]float64, d.Bins())
		for _, b := range days {
			counts[b]++
		}
		for i, c := range counts {
			if got := c / float64(len(days)); math.Abs(got-d.Probs[s][i]) > 1e-9 {
				t.Fatalf("store %s bin %d: frequency %v, ps_full %v", d.Stores[s], i+1, got, d.Probs[s][i])
			}
		}
	}
}

func TestBenchmarkIsSeededAndPoolingHelps(t *testing.T) {
	d := testData(t)
	cfg := Config{Instances: 200, Obs: 10, Runs: 3, Ratio: 0.95, Seed: 5}
	pols := []baseline.Policy{baseline.SAA{}, &baseline.ShrunkenSAA{}}
	a, err := Run(d, cfg, pols)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(d, cfg, pols)
	for i := range a.Rows {
		if a.Rows[i].Cost != b.Rows[i].Cost {
			t.Errorf("%s: same seed, costs %v and %v", a.Rows[i].Method, a.Rows[i].Cost, b.Rows[i].Cost)
		}
	}
	if a.Rows[0].Benefit != 0 || !(a.Rows[1].Benefit > 0) || !(a.Rows[2].Benefit > a.Rows[1].Benefit) {
		t.Errorf("want 0 = SAA < shrunken-saa < oracle benefit, got %+v", a.Rows)
	}
	if _, err := Run(d, Config{Instances: 5000, Obs: 10, Runs: 1, Ratio: 0.95}, pols); err == nil {
		t.Error("K beyond the store count accepted")
	}
	if _, err := Run(d, Config{Instances: 5, Obs: 10, Runs: 1, Ratio: 0.95}, pols[1:]); err == nil {
		t.Error("benchmark without SAA accepted")
	}
}

func TestLoadMissingFolderSaysWhereToGetData(t *testing.T) {
	_, err := Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "vgupta1/JS_SAA") {
		t.Errorf("missing folder: %v", err)
	}
	t.Setenv("PTFT_DATA", "")
	if _, err := ResolveDir(""); err == nil || !strings.Contains(err.Error(), "PTFT_DATA") {
		t.Errorf("no folder configured: %v", err)
	}
}

func TestLoadRejectsMalformedFiles(t *testing.T) {
	// A folder of d = 3 bins: any d reads through its own file names.
	dir := t.TempDir()
	SalesFile, SupportFile, ProbsFile := Files(3)
	os.WriteFile(filepath.Join(dir, SalesFile), []byte("Date,1,2\n2013-01-02,1,NA\n2013-01-03,3,2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, SupportFile), []byte("1,10\n2,20\n3,30\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ProbsFile), []byte("0.5,0\n0,0.5\n0.5,0.5\n"), 0o644)
	d, err := LoadBins(dir, 3)
	if err != nil || d.Bins() != 3 {
		t.Fatalf("valid small folder: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "AdjSales_NoWeekends_Binned20.csv missing") {
		t.Errorf("d = 20 files absent: %v", err)
	}
	if _, err := LoadBins(dir, 4); err == nil || !strings.Contains(err.Error(), "Binned4.csv missing") {
		t.Errorf("d = 4 files absent: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ProbsFile), []byte("0.5,0\n0,0.5\n0.5,x\n"), 0o644)
	if _, err := LoadBins(dir, 3); err == nil || !strings.Contains(err.Error(), ProbsFile+":3") {
		t.Errorf("non-numeric probability: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ProbsFile), []byte("0.5,0\n0,0.5\n"), 0o644)
	if _, err := LoadBins(dir, 3); err == nil || !strings.Contains(err.Error(), "want 3") {
		t.Errorf("probabilities of 2 bins in a 3-bin file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ProbsFile), []byte("0.5,0\n0,0.5\n0.5,0.5\n"), 0o644)
	os.WriteFile(filepath.Join(dir, SalesFile), []byte("Date,1,2\n2013-01-02,7,NA\n"), 0o644)
	if _, err := LoadBins(dir, 3); err == nil || !strings.Contains(err.Error(), SalesFile+":2: store 1") {
		t.Errorf("bin out of range: %v", err)
	}
}
