package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"

	"github.com/ptft-lab/ptft/workbench/data"
)

// FormatVersion identifies the saved-model layout. Format 2 adds the
// digest of the metadata and weights together (Meta.Digest) and saves
// variables sorted by name; format 1 (weights checksum only) still loads.
const FormatVersion = 2

// File names inside a model folder.
const (
	MetaFile    = "model.json"
	WeightsFile = "weights.bin"
)

// Meta is the JSON file saved beside the weights.
type Meta struct {
	Format int    `json:"format"`
	Config Config `json:"architecture"`
	Provenance
	// Variables lists every saved variable with its shape.
	Variables []VarInfo `json:"variables"`
	// SHA256 is the checksum of the weights file.
	SHA256 string `json:"weights_sha256"`
	// Extra holds the trainer's own state (e.g. its data stream position).
	Extra map[string]float64 `json:"extra,omitempty"`
	// TargetSteps is the length of the pretraining run that wrote this
	// model; a checkpoint of an unfinished run has Steps < TargetSteps.
	TargetSteps int `json:"target_steps,omitempty"`
	// Members records each member's provenance in an ensemble (Ensemble);
	// absent for a single model.
	Members []MemberRecord `json:"members,omitempty"`
	// Digest is the SHA-256 of the weights followed by this metadata
	// (encoded with Digest empty), so that an edit of either is caught.
	Digest string `json:"sha256,omitempty"`
}

// Provenance is how a pretrained model was made; its fields are
// model.json's, in place (an ensemble lists one per member).
type Provenance struct {
	Prior        string  `json:"prior,omitempty"`
	PriorVersion string  `json:"prior_version,omitempty"`
	Steps        int     `json:"steps"`
	Seed         uint64  `json:"seed"`
	Backend      string  `json:"backend,omitempty"`
	Version      string  `json:"version,omitempty"`
	FinalLoss    float64 `json:"final_loss,omitempty"`
	// Training records the pretraining options beyond prior, steps and seed
	// (absent in models saved before it was recorded).
	Training *TrainingRecord `json:"training,omitempty"`
	// Legs lists, in step order, the parts of the pretraining run that one
	// call each made (a run may continue on another machine or backend);
	// Backend and Version above are the last leg's. Absent in models saved
	// before it was recorded.
	Legs []TrainingLeg `json:"legs,omitempty"`
}

// TrainingLeg is one part of a pretraining run: steps From (exclusive:
// the step it resumed at) to To, run by Backend at code Version. A leg
// with an empty Backend stands for steps whose backend was not recorded.
type TrainingLeg struct {
	From    int    `json:"from"`
	To      int    `json:"to"`
	Backend string `json:"backend,omitempty"`
	Version string `json:"version,omitempty"`
}

// Unfinished reports whether the model is a checkpoint of a pretraining
// run that has not reached its last step.
func (m Meta) Unfinished() bool { return m.TargetSteps > m.Steps }

// digest returns the hex SHA-256 of weights and meta (Digest left out).
func digest(weights []byte, meta Meta) (string, error) {
	meta.Digest = ""
	js, err := json.Marshal(meta)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(weights)
	h.Write([]byte{0})
	h.Write(js)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TrainingRecord is what Pretrain was told besides prior, steps and seed.
type TrainingRecord struct {
	Batch             int     `json:"batch"`
	Instances         [2]int  `json:"instances"` // range of K
	Obs               [2]int  `json:"obs"`       // range of n_k
	ObsPerEnvironment bool    `json:"obs_per_environment,omitempty"`
	LearningRate      float64 `json:"learning_rate"`
	Warmup            int     `json:"warmup"`
}

// VarInfo describes one saved variable.
type VarInfo struct {
	Name  string `json:"name"` // scope and name
	DType string `json:"dtype"`
	Dims  []int  `json:"dims"`
}

// Save writes the model's variables (optimizer state included, so that
// training can resume) and meta to dir, atomically per file.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var vars []VarInfo
	var buf bytes.Buffer
	// In name order: a resumed run creates its variables in another order
	// than a fresh one, and must write the same file.
	var all []*context.Variable
	for v := range m.ctx.IterVariables() {
		if !loopBookkeeping(v.Scope()) {
			all = append(all, v)
		}
	}
	slices.SortFunc(all, func(a, b *context.Variable) int { return strings.Compare(a.ScopeAndName(), b.ScopeAndName()) })
	for _, v := range all {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("model: variable %s: %w", v.ScopeAndName(), err)
		}
		info := VarInfo{Name: v.ScopeAndName(), DType: t.DType().String(), Dims: t.Shape().Dimensions}
		switch t.DType() {
		case dtypes.Float32:
			tensors.MustConstFlatData(t, func(f []float32) { binary.Write(&buf, binary.LittleEndian, f) })
		case dtypes.Float64:
			tensors.MustConstFlatData(t, func(f []float64) { binary.Write(&buf, binary.LittleEndian, f) })
		case dtypes.Int64:
			tensors.MustConstFlatData(t, func(f []int64) { binary.Write(&buf, binary.LittleEndian, f) })
		default:
			return fmt.Errorf("model: variable %s has dtype %s, which ptft does not save", info.Name, t.DType())
		}
		vars = append(vars, info)
	}
	sum := sha256.Sum256(buf.Bytes())
	m.Meta.Format, m.Meta.Config, m.Meta.Variables, m.Meta.SHA256 = FormatVersion, m.Config, vars, hex.EncodeToString(sum[:])
	d, err := digest(buf.Bytes(), m.Meta)
	if err != nil {
		return err
	}
	m.Meta.Digest = d
	if err := data.WriteFileAtomic(filepath.Join(dir, WeightsFile), func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	}); err != nil {
		return err
	}
	return data.WriteFileAtomic(filepath.Join(dir, MetaFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(m.Meta)
	})
}

// loopBookkeeping reports whether a scope holds variables of GoMLX's
// training loop rather than of the model or its optimizer: the loss
// metrics' moving averages (under names with a random UUID) and the loop's
// last step. Saving them would make two identical runs' files differ.
func loopBookkeeping(scope string) bool {
	for _, s := range []string{gomlxtrain.TrainerAbsoluteScope, context.ScopeSeparator + metrics.Scope} {
		if scope == s || strings.HasPrefix(scope, s+context.ScopeSeparator) {
			return true
		}
	}
	return false
}

// Load reads a model saved by Save, checking format, architecture and
// checksum; every failure names the folder and what is wrong.
func Load(dir string) (*Model, error) {
	return LoadFS(os.DirFS(dir), dir)
}

// LoadFS is Load from a file system (for example a model embedded in the
// binary); name labels errors.
func LoadFS(fsys fs.FS, name string) (*Model, error) {
	dir := name
	raw, err := fs.ReadFile(fsys, MetaFile)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	var meta Meta
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("model %s: %s is corrupt: %w", dir, MetaFile, err)
	}
	if meta.Format != FormatVersion && meta.Format != 1 {
		return nil, fmt.Errorf("model %s: format %d, this ptft reads formats 1 and %d", dir, meta.Format, FormatVersion)
	}
	weights, err := fs.ReadFile(fsys, WeightsFile)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	if sum := sha256.Sum256(weights); hex.EncodeToString(sum[:]) != meta.SHA256 {
		return nil, fmt.Errorf("model %s: %s does not match the checksum in %s (corrupt or replaced)", dir, WeightsFile, MetaFile)
	}
	if meta.Format >= 2 {
		if d, err := digest(weights, meta); err != nil || d != meta.Digest {
			return nil, fmt.Errorf("model %s: %s was edited or corrupted: its digest does not match its contents", dir, MetaFile)
		}
	}
	m, err := newModel(meta.Config, meta.Seed)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	m.Meta = meta
	r := bytes.NewReader(weights)
	for _, v := range meta.Variables {
		n := 1
		for _, d := range v.Dims {
			n *= d
		}
		var t *tensors.Tensor
		switch v.DType {
		case dtypes.Float32.String():
			f := make([]float32, n)
			err = binary.Read(r, binary.LittleEndian, f)
			t = tensors.FromFlatDataAndDimensions(f, v.Dims...)
		case dtypes.Float64.String():
			f := make([]float64, n)
			err = binary.Read(r, binary.LittleEndian, f)
			t = tensors.FromFlatDataAndDimensions(f, v.Dims...)
		case dtypes.Int64.String():
			f := make([]int64, n)
			err = binary.Read(r, binary.LittleEndian, f)
			t = tensors.FromFlatDataAndDimensions(f, v.Dims...)
		default:
			err = fmt.Errorf("unknown dtype %q", v.DType)
		}
		if err != nil {
			return nil, fmt.Errorf("model %s: variable %s: %w", dir, v.Name, err)
		}
		scope, name := splitScopeName(v.Name)
		// Only the model's own variables train; GoMLX would mark every loaded
		// one trainable, Adam's moments and step counters included.
		m.ctx.InAbsPath(scope).Checked(false).VariableWithValue(name, t).SetTrainable(IsModelVariable(v.Name))
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("model %s: %d unread bytes in %s", dir, r.Len(), WeightsFile)
	}
	if err := m.checkArchitecture(); err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return m, nil
}

// checkArchitecture builds the graph on a tiny batch: a variable of the
// wrong shape for the stated architecture makes it fail here, not later.
func (m *Model) checkArchitecture() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("weights do not fit architecture %+v: %v", m.Config, r)
		}
	}()
	before := 0
	for range m.ctx.IterVariables() {
		before++
	}
	q, err := m.Predict(m.probeBatch())
	after := 0
	for range m.ctx.IterVariables() {
		after++
	}
	if err == nil && after != before {
		err = fmt.Errorf("%d variables of architecture %+v missing from the weights", after-before, m.Config)
	}
	if err == nil && slices.ContainsFunc(q, func(x float32) bool { return math.IsNaN(float64(x)) }) {
		err = fmt.Errorf("NaN decisions")
	}
	if err != nil {
		return fmt.Errorf("weights do not fit architecture %+v: %w", m.Config, err)
	}
	return nil
}

// splitScopeName splits "/a/b/name" into "/a/b" and "name".
func splitScopeName(s string) (string, string) {
	i := len(s) - 1
	for i >= 0 && s[i] != '/' {
		i--
	}
	if i <= 0 {
		return "/", s[i+1:]
	}
	return s[:i], s[i+1:]
}
