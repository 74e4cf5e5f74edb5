// Package rossmann loads Gupta & Kallus's binned Rossmann store-sales data
// and runs their synthetic-Rossmann data-pooling benchmark: K stores in file
// column order, N days per store drawn i.i.d. from the store's full-history
// distribution (or N_k ~ Poisson(N)), one order quantity per store from those
// draws alone, scored by exact expected cost under the full-history
// distribution, and reported as relative benefit over SAA.
//
// The data are not shipped with ptft: they come from the public repository
// vgupta1/JS_SAA (folder RossmanKaggleData/CleanedData, MIT licence). Point
// ptft at a folder holding AdjSales_NoWeekends_Binned<d>.csv, support<d>.csv
// and ps_full<d>.csv (d = 20 bins by default; the repository also has
// d = 50 and d = 1000) with --data or PTFT_DATA.
package rossmann

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ptft-lab/ptft/workbench/dist"
)

// DefaultBins is d of Gupta & Kallus's main setting.
const DefaultBins = 20

// Files returns the names of the three files for d bins: sales (bin
// indices per day), support and full-history probabilities.
func Files(d int) (sales, support, probs string) {
	return fmt.Sprintf("AdjSales_NoWeekends_Binned%d.csv", d), fmt.Sprintf("support%d.csv", d), fmt.Sprintf("ps_full%d.csv", d)
}

// File names inside the data folder, for d = 20 bins.
var SalesFile, SupportFile, ProbsFile = Files(DefaultBins)

// Data is the binned benchmark data, stores in file column order.
type Data struct {
	Dir     string
	Stores  []string
	Support [][]float64 // Support[k][i]: sales value of bin i of store k, increasing in i
	Probs   [][]float64 // Probs[k][i]: full-history frequency of bin i
	// Days[k] lists store k's observed bin indices (0-based), NA days left out.
	Days [][]int
}

// Bins returns d, the number of support points per store.
func (d *Data) Bins() int { return len(d.Support[0]) }

// Truth returns store k's full-history distribution.
func (d *Data) Truth(k int) dist.Distribution {
	t, err := dist.NewDiscrete(d.Support[k], d.Probs[k])
	if err != nil {
		panic(err) // validated by Load
	}
	return t
}

// ResolveDir picks the data folder: flag if set, else $PTFT_DATA (either the
// Rossmann folder itself or a folder holding a rossmann/ subfolder).
func ResolveDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv("PTFT_DATA"); env != "" {
		if st, err := os.Stat(filepath.Join(env, "rossmann")); err == nil && st.IsDir() {
			return filepath.Join(env, "rossmann"), nil
		}
		return env, nil
	}
	return "", errors.New("no Rossmann data folder: pass --data DIR or set PTFT_DATA; the files " +
		SalesFile + ", " + SupportFile + " and " + ProbsFile +
		" come from the public repository vgupta1/JS_SAA, folder RossmanKaggleData/CleanedData (MIT licence)")
}

// Load reads and cross-checks the three files of d = 20 bins in dir.
func Load(dir string) (*Data, error) { return LoadBins(dir, DefaultBins) }

// LoadBins reads and cross-checks the three files of bins support points
// in dir.
func LoadBins(dir string, bins int) (*Data, error) {
	if bins < 2 {
		return nil, fmt.Errorf("rossmann: %d bins: want at least 2", bins)
	}
	SalesFile, SupportFile, ProbsFile := Files(bins)
	for _, f := range []string{SalesFile, SupportFile, ProbsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("rossmann: %s missing in %s (get it from vgupta1/JS_SAA, RossmanKaggleData/CleanedData): %w", f, dir, err)
		}
	}
	d := &Data{Dir: dir}
	sales, err := readCSV(filepath.Join(dir, SalesFile))
	if err != nil {
		return nil, err
	}
	if len(sales) < 2 || len(sales[0]) < 2 || sales[0][0] != "Date" {
		return nil, fmt.Errorf("rossmann: %s: want header Date,<store ids>", filepath.Join(dir, SalesFile))
	}
	d.Stores = sales[0][1:]
	k := len(d.Stores)
	sup, err := readMatrix(filepath.Join(dir, SupportFile), k)
	if err != nil {
		return nil, err
	}
	probs, err := readMatrix(filepath.Join(dir, ProbsFile), k)
	if err != nil {
		return nil, err
	}
	if len(sup) != bins || len(probs) != bins {
		return nil, fmt.Errorf("rossmann: %s has %d bins and %s %d, want %d", SupportFile, len(sup), ProbsFile, len(probs), bins)
	}
	d.Support, d.Probs, d.Days = make([][]float64, k), make([][]float64, k), make([][]int, k)
	for s := range k {
		d.Support[s], d.Probs[s] = make([]float64, bins), make([]float64, bins)
		total := 0.0
		for i := range bins {
			d.Support[s][i], d.Probs[s][i] = sup[i][s], probs[i][s]
			total += probs[i][s]
			if i > 0 && !(sup[i][s] > sup[i-1][s]) {
				return nil, fmt.Errorf("rossmann: %s: store %s support not increasing at bin %d", SupportFile, d.Stores[s], i+1)
			}
			if !(probs[i][s] >= 0) {
				return nil, fmt.Errorf("rossmann: %s: store %s bin %d probability %v", ProbsFile, d.Stores[s], i+1, probs[i][s])
			}
		}
		if math.Abs(total-1) > 1e-6 {
			return nil, fmt.Errorf("rossmann: %s: store %s probabilities sum to %v", ProbsFile, d.Stores[s], total)
		}
	}
	for line, row := range sales[1:] {
		if len(row) != k+1 {
			return nil, fmt.Errorf("rossmann: %s:%d: %d fields, want %d", SalesFile, line+2, len(row), k+1)
		}
		for s, cell := range row[1:] {
			if cell == "NA" {
				continue
			}
			b, err := strconv.Atoi(cell)
			if err != nil || b < 1 || b > bins {
				return nil, fmt.Errorf("rossmann: %s:%d: store %s: bin %q not in 1..%d", SalesFile, line+2, d.Stores[s], cell, bins)
			}
			d.Days[s] = append(d.Days[s], b-1)
		}
	}
	return d, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("rossmann: %s: %w", path, err)
	}
	return rows, nil
}

// readMatrix reads a headerless numeric matrix of cols columns.
func readMatrix(path string, cols int) ([][]float64, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("rossmann: %s: empty", path)
	}
	m := make([][]float64, len(rows))
	for i, row := range rows {
		if len(row) != cols {
			return nil, fmt.Errorf("rossmann: %s:%d: %d columns, want %d (one per store)", path, i+1, len(row), cols)
		}
		m[i] = make([]float64, cols)
		for j, cell := range row {
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("rossmann: %s:%d: column %d: %q is not a finite number", path, i+1, j+1, cell)
			}
			m[i][j] = v
		}
	}
	return m, nil
}
