package experiments

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Record is one finished cell, one line of a raw results file.
type Record struct {
	Key  string `json:"key"`
	Cell Cell   `json:"cell"`
	// BaseSeed is the run's --seed; Cell.EnvSeed follows from it.
	BaseSeed uint64 `json:"base_seed"`
	// Value is the experiment's metric (regret, benefit over SAA or seconds).
	Value float64 `json:"value"`
	// Cost and OracleCost are mean expected costs per instance (exact).
	Cost       float64 `json:"cost"`
	OracleCost float64 `json:"oracle_cost,omitempty"`
	Regret     float64 `json:"regret"`
	// Seconds is the wall time of deciding, finetuning included;
	// PeakHeapMiB the largest live Go heap seen meanwhile.
	Seconds     float64 `json:"seconds"`
	PeakHeapMiB float64 `json:"peak_heap_mib"`
	// FinetuneSteps and BestStep report a finetuning run (steps taken,
	// step of the weights kept by early stopping).
	FinetuneSteps int    `json:"finetune_steps_taken,omitempty"`
	BestStep      int    `json:"finetune_best_step,omitempty"`
	Version       string `json:"version"`
	GoVersion     string `json:"go_version"`
	Backend       string `json:"backend"`
}

// RawPath is the raw results file of an experiment: <dir>/<name>.jsonl,
// <name>-quick.jsonl for the quick variant, and
// <name>[-quick].shard-<i>-of-<n>.jsonl for shard i of n.
func RawPath(dir, name string, quick bool, shard, shards int) string {
	base := rawBase(name, quick)
	if shards > 1 {
		return filepath.Join(dir, fmt.Sprintf("%s.shard-%d-of-%d.jsonl", base, shard, shards))
	}
	return filepath.Join(dir, base+".jsonl")
}

func rawBase(name string, quick bool) string {
	if quick {
		return name + "-quick"
	}
	return name
}

// RawFiles lists an experiment's raw files in dir: the merged file first,
// then the shard files in name order.
func RawFiles(dir, name string, quick bool) ([]string, error) {
	base := rawBase(name, quick)
	shards, err := filepath.Glob(filepath.Join(dir, base+".shard-*-of-*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(shards)
	var files []string
	if _, err := os.Stat(filepath.Join(dir, base+".jsonl")); err == nil {
		files = append(files, filepath.Join(dir, base+".jsonl"))
	}
	return append(files, shards...), nil
}

// ReadRawFile reads one raw results file. A line that is not a record is an
// error naming the file and line.
func ReadRawFile(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r Record
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s:%d: not a raw result record: %v", path, line, err)
		}
		if r.Key == "" || r.Key != r.Cell.Key() {
			return nil, fmt.Errorf("%s:%d: key %q does not match its cell (%q)", path, line, r.Key, r.Cell.Key())
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// ReadRaw reads and merges every raw file of an experiment in dir; a cell
// present in several files (a merged file and a shard) counts once.
func ReadRaw(dir, name string, quick bool) ([]Record, error) {
	files, err := RawFiles(dir, name, quick)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var all []Record
	for _, f := range files {
		recs, err := ReadRawFile(f)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if !seen[r.Key] {
				seen[r.Key] = true
				all = append(all, r)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	return all, nil
}

func encodeRecord(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
