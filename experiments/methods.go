package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ptft-lab/ptft/results/models"
	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/model"
	"github.com/ptft-lab/ptft/workbench/prior"
	"github.com/ptft-lab/ptft/workbench/rossmann"
	"github.com/ptft-lab/ptft/workbench/train"
)

// MethodOptions configure the methods that Method builds.
type MethodOptions struct {
	// Model is a model folder, or the name of a shipped model ("default",
	// "normal-normal"); empty means the shipped default.
	Model string
	// Bins is Shrunken-SAA's common-support size for continuous data (0:
	// baseline.DefaultBins).
	Bins int
	// FinetuneSteps caps finetuning for transformer-finetuned and
	// transformer-scratch (0: train.DefaultFinetuneOptions).
	FinetuneSteps int
	// Seed seeds finetuning and the scratch model's initial weights.
	Seed uint64
	// Env, when the data come from a prior, lets "bayes" and "oracle"
	// resolve (they need the truth).
	Env *prior.Environment
	// Rossmann, when set, lets the full-history diagnostics
	// rossmann.KnownShapeNames resolve.
	Rossmann *rossmann.Data
	// Models, when set, caches loaded models by reference across calls.
	Models map[string]*model.Model
}

// MethodSpec is a method name taken apart: Base, the model after @ (empty:
// none) and whether the +bins suffix asks for bin units.
type MethodSpec struct {
	Base, Model string
	Bins        bool
}

// ParseMethod is the one parser of method names:
// base[@model][+bins], e.g. "transformer-finetuned@retail-daily+bins".
func ParseMethod(name string) (MethodSpec, error) {
	var s MethodSpec
	rest, bins := strings.CutSuffix(name, baseline.BinUnitsSuffix)
	s.Bins = bins
	base, ref, at := strings.Cut(rest, "@")
	s.Base, s.Model = base, ref
	if base == "" {
		return s, fmt.Errorf("%w %q: empty name", baseline.ErrUnknownMethod, name)
	}
	if at && (ref == "" || !slices.Contains(TransformerMethods, base)) {
		return s, fmt.Errorf("%w %q: only %v take a model after @", baseline.ErrUnknownMethod, name, TransformerMethods)
	}
	return s, nil
}

// String puts the name back together.
func (s MethodSpec) String() string {
	name := s.Base
	if s.Model != "" {
		name += "@" + s.Model
	}
	if s.Bins {
		name += baseline.BinUnitsSuffix
	}
	return name
}

// TransformerMethods are the method names backed by the Transformer.
var TransformerMethods = []string{"transformer", "transformer-head", "transformer-finetuned", "transformer-scratch"}

// LoadModel loads a model folder, or a shipped model by name (empty: the
// shipped default). A folder of that name wins over a shipped model. A
// checkpoint of an unfinished pretraining run is refused.
func LoadModel(ref string) (*model.Model, error) {
	if ref == "" {
		return models.Default()
	}
	if _, err := os.Stat(filepath.Join(ref, model.MetaFile)); err != nil && slices.Contains(models.Names, ref) {
		return models.Shipped(ref)
	}
	m, err := model.Load(ref)
	if err != nil {
		return nil, err
	}
	if m.Meta.Unfinished() {
		return nil, fmt.Errorf("model %s is an unfinished pretraining run (step %d of %d): continue it with ptft pretrain --resume --out %s",
			ref, m.Meta.Steps, m.Meta.TargetSteps, ref)
	}
	return m, nil
}

// Method returns the policy called name: a classical method of
// baseline.ByName, eb-ml, eb-censored or eb-gamma-poisson-ml, or one of
// TransformerMethods. transformer-head is the pretrained model without
// its rule selection (model.Model.FullStrength). transformer-scratch
// trains a randomly initialised model with the pretrained model's
// architecture, so the two differ only in pretraining. A Transformer
// method may name its model after an @
// ("transformer-finetuned@retail-daily"), which overrides o.Model, so that
// one experiment can compare pretrained models; the policy then carries
// that whole name. Any method with the suffix baseline.BinUnitsSuffix
// ("transformer-finetuned+bins") runs in each instance's bin units, on
// binned data.
func Method(name string, o MethodOptions) (baseline.Policy, error) {
	spec, err := ParseMethod(name)
	if err != nil {
		return nil, err
	}
	pol, err := method(spec, o)
	if err != nil {
		return nil, err
	}
	if spec.Model != "" {
		pol = named{Policy: pol, name: spec.Base + "@" + spec.Model}
	}
	if spec.Bins {
		pol = baseline.BinUnits{Policy: pol}
	}
	return pol, nil
}

// method resolves a parsed name's base, with its model.
func method(spec MethodSpec, o MethodOptions) (baseline.Policy, error) {
	if spec.Model != "" {
		o.Model = spec.Model
	}
	load := func() (*model.Model, error) { return loadCached(o.Model, o.Models) }
	ft := finetuneOptions(o.FinetuneSteps, o.Seed)
	switch spec.Base {
	case "transformer":
		return load()
	case "transformer-head":
		// The trained head without Decide's rule selection, beside
		// "transformer" in one table. Its own copy, not the cached one:
		// FullStrength belongs to the loaded model.
		m, err := LoadModel(o.Model)
		if err != nil {
			return nil, err
		}
		m.FullStrength = true
		return named{Policy: m, name: "transformer-head"}, nil
	case "transformer-finetuned":
		// A fresh copy each time: finetuning changes the model's weights.
		return &train.FinetunedPolicy{Base: func() (*model.Model, error) { return LoadModel(o.Model) }, Options: ft}, nil
	case "transformer-scratch":
		base, err := load()
		if err != nil {
			return nil, err
		}
		cfg := base.Config
		cfg.Adapters = 0
		return &train.FinetunedPolicy{Config: cfg, Options: ft}, nil
	case "eb-ml":
		return baseline.EmpiricalBayes{Method: baseline.MarginalLikelihood}, nil
	case "eb-censored":
		return baseline.EmpiricalBayes{Censored: true}, nil
	case "eb-gamma-poisson-ml":
		return baseline.EmpiricalBayes{Family: baseline.GammaPoissonFamily, Method: baseline.MarginalLikelihood}, nil
	case "bayes", "oracle":
		if o.Env == nil {
			return nil, fmt.Errorf("%w %q: needs a synthetic truth (a prior's environment)", baseline.ErrUnknownMethod, spec.Base)
		}
		if spec.Base == "oracle" {
			return baseline.Oracle{Truth: o.Env.Truth}, nil
		}
		return baseline.BayesPolicy(o.Env.Prior.Kind, o.Env.Hyper)
	}
	if i := slices.Index(rossmann.KnownShapeNames, spec.Base); i >= 0 {
		if o.Rossmann == nil {
			return nil, fmt.Errorf("%w %q: a diagnostic of the Rossmann benchmark (it reads the stores' full histories)", baseline.ErrUnknownMethod, spec.Base)
		}
		return rossmann.KnownShape{Data: o.Rossmann, Scale: i == 1}, nil
	}
	pol, err := baseline.ByName(spec.Base)
	if err != nil {
		return nil, fmt.Errorf("%w (or eb-ml, eb-gamma-poisson-ml, eb-censored, bayes, oracle, %v)", err, TransformerMethods)
	}
	if s, ok := pol.(*baseline.ShrunkenSAA); ok && o.Bins != 0 {
		if o.Bins < 1 {
			return nil, fmt.Errorf("%w: shrunken-saa: bins %d must be >= 1", baseline.ErrUnknownMethod, o.Bins)
		}
		s.Bins = o.Bins
	}
	return pol, nil
}

// loadCached is LoadModel through an optional cache.
func loadCached(ref string, cache map[string]*model.Model) (*model.Model, error) {
	if m, ok := cache[ref]; ok {
		return m, nil
	}
	m, err := LoadModel(ref)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		cache[ref] = m
	}
	return m, nil
}

// named gives a policy the name it was asked by, so that tables listing
// two models ("transformer", "transformer@retail-daily") tell them apart.
type named struct {
	baseline.Policy
	name string
}

func (n named) Name() string { return n.name }

// Unwrap returns the policy behind the name.
func (n named) Unwrap() baseline.Policy { return n.Policy }

// unwrap strips the wrappers (named, baseline.BinUnits) off a policy.
func unwrap(pol baseline.Policy) baseline.Policy {
	for {
		u, ok := pol.(interface{ Unwrap() baseline.Policy })
		if !ok {
			return pol
		}
		pol = u.Unwrap()
	}
}

// Methods resolves a list of method names.
func Methods(names []string, o MethodOptions) ([]baseline.Policy, error) {
	var pols []baseline.Policy
	for _, n := range names {
		pol, err := Method(n, o)
		if err != nil {
			return nil, err
		}
		pols = append(pols, pol)
	}
	return pols, nil
}

// finetuneOptions are the default finetuning options with steps and seed
// overridden where given (non-zero).
func finetuneOptions(steps int, seed uint64) train.FinetuneOptions {
	ft := train.DefaultFinetuneOptions()
	if steps > 0 {
		ft.Steps = steps
	}
	if seed != 0 {
		ft.Seed = seed
	}
	return ft
}
