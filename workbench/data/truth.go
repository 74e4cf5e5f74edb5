package data

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/provenance"
)

// TruthFile is the JSON form of a synthetic environment's true
// distributions, written by `ptft simulate --truth`.
type TruthFile struct {
	Provenance   provenance.Record  `json:"provenance"`
	Problem      string             `json:"problem"`
	Prior        string             `json:"prior"`
	PriorVersion string             `json:"prior_version"`
	Hyper        map[string]float64 `json:"hyperparameters,omitempty"`
	Instances    []TruthInstance    `json:"instances"`
}

// TruthInstance is one instance's ratio and true distribution.
type TruthInstance struct {
	ID    string    `json:"id"`
	Ratio float64   `json:"critical_ratio"`
	Dist  dist.Spec `json:"distribution"`
}

// WriteTruthFile writes t as indented JSON, atomically.
func WriteTruthFile(path string, t *TruthFile) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(t)
	})
}

// ReadTruthFile reads and validates a truth file, returning it with the
// built distributions in instance order.
func ReadTruthFile(path string) (*TruthFile, []dist.Distribution, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var t TruthFile
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, nil, fmt.Errorf("%s: not a truth file: %w", path, err)
	}
	if len(t.Instances) == 0 {
		return nil, nil, fmt.Errorf("%s: no instances", path)
	}
	ds := make([]dist.Distribution, len(t.Instances))
	seen := map[string]bool{}
	for i, in := range t.Instances {
		if in.ID == "" {
			return nil, nil, fmt.Errorf("%s: instance %d has no id", path, i)
		}
		if seen[in.ID] {
			return nil, nil, fmt.Errorf("%s: instance %q appears twice", path, in.ID)
		}
		seen[in.ID] = true
		if err := CheckRatio(in.Ratio); err != nil {
			return nil, nil, fmt.Errorf("%s: instance %q: %w", path, in.ID, err)
		}
		d, err := in.Dist.Build()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: instance %q: %w", path, in.ID, err)
		}
		ds[i] = d
	}
	return &t, ds, nil
}
