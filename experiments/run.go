package experiments

import (
	stdcontext "context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ptft-lab/ptft/workbench/model"
)

// RunOptions configure a sweep.
type RunOptions struct {
	// Quick runs the experiment's quick grid (tests, CI, notebooks).
	Quick bool
	// Seeds overrides the grid's number of replicates (0: the grid's).
	Seeds int
	// Seed is the base seed every environment seed derives from (0: 1).
	Seed uint64
	// Shard and Shards select shard Shard of Shards (1-based); Shards <= 1
	// runs every cell.
	Shard, Shards int
	// Dir holds the raw results (default "results/raw").
	Dir string
	// MaxCells stops after running this many cells (0: no limit).
	MaxCells int
	// Log receives one line per finished cell (nil: none).
	Log io.Writer
}

// RunSummary says what a Run did.
type RunSummary struct {
	// Path is the raw file this run appended to.
	Path string
	// Cells is the number of cells in this shard; Skipped were already in
	// the raw results; Ran were run now.
	Cells, Skipped, Ran int
	Seconds             float64
}

// Run executes the cells of e (of one shard) that the raw results do not
// hold yet, appending each finished cell to the shard's raw file. A killed
// or cancelled run resumes where it stopped: cells already recorded in any
// raw file of the experiment are skipped, so none is run twice or lost.
func Run(ctx stdcontext.Context, e *Experiment, o RunOptions) (*RunSummary, error) {
	if o.Dir == "" {
		o.Dir = "results/raw"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Shards > 1 && (o.Shard < 1 || o.Shard > o.Shards) {
		return nil, fmt.Errorf("shard %d/%d: want 1 <= i <= n", o.Shard, o.Shards)
	}
	cells := e.Cells(o.Quick, o.Seeds, o.Seed)
	if o.Shards > 1 {
		cells = Shard(cells, o.Shard, o.Shards)
	}
	unlock, err := lockRaw(RawPath(o.Dir, e.Name, o.Quick, o.Shard, o.Shards))
	if err != nil {
		return nil, err
	}
	defer unlock()
	done, err := ReadRaw(o.Dir, e.Name, o.Quick)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, r := range done {
		have[r.Key] = true
	}
	s := &RunSummary{Path: RawPath(o.Dir, e.Name, o.Quick, o.Shard, o.Shards), Cells: len(cells)}
	old, err := os.ReadFile(s.Path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	x := &executor{exp: e, dir: o.Dir, log: o.Log, baseSeed: o.Seed, models: map[string]*model.Model{}}
	start := time.Now()
	for i, c := range cells {
		if have[c.Key()] {
			s.Skipped++
			continue
		}
		if o.MaxCells > 0 && s.Ran >= o.MaxCells {
			break
		}
		if err := ctx.Err(); err != nil {
			return s, err
		}
		r, err := x.run(ctx, c)
		if err != nil {
			return s, err
		}
		line, err := encodeRecord(r)
		if err != nil {
			return s, err
		}
		if err := writeRaw(s.Path, old, line); err != nil {
			return s, err
		}
		old = append(old, line...)
		s.Ran++
		fmt.Fprintf(o.Log, "[%d/%d] %s: %s %s (%.1fs, %.0f MiB)\n", i+1, len(cells), c.Key(), e.Metric, formatValue(e.Metric, r.Value), r.Seconds, r.PeakHeapMiB)
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// Merge rewrites an experiment's raw results as one file (<name>.jsonl),
// sorted by cell key, and removes the shard files it merged.
func Merge(dir, name string, quick bool) (string, int, error) {
	files, err := RawFiles(dir, name, quick)
	if err != nil {
		return "", 0, err
	}
	recs, err := ReadRaw(dir, name, quick)
	if err != nil {
		return "", 0, err
	}
	var all []byte
	for _, r := range recs {
		line, err := encodeRecord(r)
		if err != nil {
			return "", 0, err
		}
		all = append(all, line...)
	}
	path := RawPath(dir, name, quick, 0, 0)
	unlock, err := lockRaw(path)
	if err != nil {
		return "", 0, err
	}
	defer unlock()
	if err := writeRaw(path, nil, all); err != nil {
		return "", 0, err
	}
	for _, f := range files {
		if f != path {
			if err := os.Remove(f); err != nil {
				return path, len(recs), err
			}
		}
	}
	return path, len(recs), nil
}

func formatValue(m Metric, v float64) string {
	if m == Seconds {
		return fmt.Sprintf("%.3fs", v)
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}
