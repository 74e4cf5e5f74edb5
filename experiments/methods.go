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
}

// TransformerMethods are the method names backed by the Transformer.
var TransformerMethods = []string{"transformer", "transformer-finetuned", "transformer-scratch"}

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
// baseline.ByName, eb-ml or eb-gamma-poisson-ml, or one of
// TransformerMethods. transformer-scratch trains a randomly initialised
// model with the pretrained model's architecture, so the two differ only
// in pretraining. A Transformer method may name its model after an @
// ("transformer-finetuned@retail-daily"), which overrides o.Model, so that
// one experiment can compare pretrained models; the policy then carries
// that whole name. Any method with the suffix baseline.BinUnitsSuffix
// ("transformer-finetuned+bins") runs in each instance's bin units, on
// binned data.
func Method(name string, o MethodOptions) (baseline.Policy, error) {
	if inner, ok := strings.CutSuffix(name, baseline.BinUnitsSuffix); ok {
		pol, err := Method(inner, o)
		if err != nil {
			return nil, err
		}
		return baseline.BinUnits{Policy: pol}, nil
	}
	if base, ref, ok := strings.Cut(name, "@"); ok {
		if !slices.Contains(TransformerMethods, base) || ref == "" {
			return nil, fmt.Errorf("%w %q: only %v take a model after @", baseline.ErrUnknownMethod, name, TransformerMethods)
		}
		o.Model = ref
		pol, err := Method(base, o)
		if err != nil {
			return nil, err
		}
		return named{Policy: pol, name: name}, nil
	}
	ft := finetuneOptions(o.FinetuneSteps, o.Seed)
	switch name {
	case "transformer":
		return LoadModel(o.Model)
	case "transformer-finetuned":
		return &train.FinetunedPolicy{Base: func() (*model.Model, error) { return LoadModel(o.Model) }, Options: ft}, nil
	case "transformer-scratch":
		base, err := LoadModel(o.Model)
		if err != nil {
			return nil, err
		}
		cfg := base.Config
		cfg.Adapters = 0
		return &train.FinetunedPolicy{Config: cfg, Options: ft}, nil
	case "eb-ml":
		return baseline.EmpiricalBayes{Method: baseline.MarginalLikelihood}, nil
	case "eb-gamma-poisson-ml":
		return baseline.EmpiricalBayes{Family: baseline.GammaPoissonFamily, Method: baseline.MarginalLikelihood}, nil
	}
	pol, err := baseline.ByName(name)
	if err != nil {
		return nil, fmt.Errorf("%w (or eb-ml, eb-gamma-poisson-ml, %v)", err, TransformerMethods)
	}
	if s, ok := pol.(*baseline.ShrunkenSAA); ok && o.Bins != 0 {
		if o.Bins < 1 {
			return nil, fmt.Errorf("%w: shrunken-saa: bins %d must be >= 1", baseline.ErrUnknownMethod, o.Bins)
		}
		s.Bins = o.Bins
	}
	return pol, nil
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
