package train

import (
	stdcontext "context"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/model"
)

// FinetunedPolicy decides the way a firm would use ptft: it finetunes a fresh
// copy of a pretrained model (or, with Base nil, a randomly initialised one:
// training from scratch) on the portfolio's own observations, then decides
// with all of them. It implements baseline.Policy.
type FinetunedPolicy struct {
	// Base returns the starting model; nil means from scratch with Config.
	Base    func() (*model.Model, error)
	Config  model.Config
	Options FinetuneOptions
	// Last is the result of the latest Decide, for reports.
	Last *FinetuneResult
}

// Name is "transformer-finetuned", or "transformer-scratch" without a base.
func (f *FinetunedPolicy) Name() string {
	if f.Base == nil {
		return "transformer-scratch"
	}
	return "transformer-finetuned"
}

// Decide finetunes on p and returns the finetuned model's decisions.
func (f *FinetunedPolicy) Decide(p *data.Portfolio) ([]float64, error) {
	var m *model.Model
	var err error
	if f.Base == nil {
		m, err = model.New(f.Config, f.Options.Seed)
	} else {
		m, err = f.Base()
	}
	if err != nil {
		return nil, err
	}
	res, err := Finetune(stdcontext.Background(), m, p, f.Options)
	if err != nil {
		return nil, err
	}
	f.Last = res
	return m.Decide(p)
}
