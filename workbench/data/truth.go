package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	// Observations names the observation file written with this truth
	// and its digest, so that a mismatched pair is caught.
	Observations *ObservationsRef `json:"observations,omitempty"`
	Instances    []TruthInstance  `json:"instances"`
}

// ObservationsRef is an observation file by name (relative to the truth
// file's folder when it lies there) and SHA-256 of its bytes.
type ObservationsRef struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// CheckObservations verifies that the observation file at obsPath (empty:
// the one the truth file names, beside truthPath) is the one written with
// the truth file.
func (t *TruthFile) CheckObservations(truthPath, obsPath string) error {
	if t.Observations == nil {
		return nil // written before truth files recorded their observations
	}
	if obsPath == "" {
		obsPath = t.Observations.File
		if !filepath.IsAbs(obsPath) {
			obsPath = filepath.Join(filepath.Dir(truthPath), obsPath)
		}
	}
	sum, err := FileSHA256(obsPath)
	if err != nil {
		return fmt.Errorf("%s: its observation file %s cannot be read to check that they belong together (%v); name it with --data", truthPath, obsPath, err)
	}
	if sum != t.Observations.SHA256 {
		return fmt.Errorf("%s does not belong to %s: its contents differ from the observations written with that truth file (another simulate run, or an edit)", obsPath, truthPath)
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TruthInstance is one instance's ratio and true distribution.
type TruthInstance struct {
	ID    string    `json:"id"`
	Ratio float64   `json:"critical_ratio"`
	Dist  dist.Spec `json:"distribution"`
}

// WriteTruthFile writes t as indented JSON, atomically.
func WriteTruthFile(path string, t *TruthFile) error {
	return WriteFileAtomic(path, t.write)
}

func (t *TruthFile) write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(t)
}

// WriteObservationsAndTruth writes p's observations to obsPath and t to
// truthPath as one pair (WriteFilesAtomic): t records the observation
// file's name and digest, which `ptft evaluate` checks.
func WriteObservationsAndTruth(obsPath string, p *Portfolio, truthPath string, t *TruthFile) error {
	h := sha256.New()
	name := obsPath
	if rel, err := filepath.Rel(filepath.Dir(truthPath), obsPath); err == nil && !strings.HasPrefix(rel, "..") {
		name = rel
	} else if abs, err := filepath.Abs(obsPath); err == nil {
		name = abs
	}
	return WriteFilesAtomic(
		Output{Path: obsPath, Write: func(w io.Writer) error { return writeObservations(io.MultiWriter(w, h), p) }},
		Output{Path: truthPath, Write: func(w io.Writer) error {
			t.Observations = &ObservationsRef{File: name, SHA256: hex.EncodeToString(h.Sum(nil))}
			return t.write(w)
		}},
	)
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
