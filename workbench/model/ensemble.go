package model

import (
	"fmt"
	"strings"
)

// MemberRecord is the provenance of one member of an ensemble (Ensemble):
// what its own model.json said.
type MemberRecord struct {
	Provenance
	// Digest is the member's own Meta.Digest, which names the exact files
	// it came from.
	Digest string `json:"sha256,omitempty"`
}

// Ensemble returns a model that decides the mean of the members'
// decisions (in scaled units, before the floor at zero). Members are
// single pretrained models of one architecture, typically the same
// recipe under different seeds: the newsvendor cost is convex in the
// order, so on every instance the mean order costs at most the members'
// mean cost, and averaging removes part of what one training seed gets
// wrong. The portfolio's features and experts are computed once for all
// members. The ensemble keeps the members' weights but not their
// optimizer state: it decides and finetunes (all members together, on
// their mean decision) but does not continue pretraining.
func Ensemble(members ...*Model) (*Model, error) {
	if len(members) < 2 {
		return nil, fmt.Errorf("model: an ensemble needs at least two members, got %d", len(members))
	}
	first := members[0]
	for i, mem := range members {
		switch {
		case mem.Config.members() > 1:
			return nil, fmt.Errorf("model: ensemble member %d is itself an ensemble of %d", i+1, mem.Config.Members)
		case mem.Config.Adapters > 0:
			return nil, fmt.Errorf("model: ensemble member %d has adapters (rank %d); ensemble pretrained models", i+1, mem.Config.Adapters)
		case mem.Meta.Unfinished():
			return nil, fmt.Errorf("model: ensemble member %d is an unfinished pretraining run (step %d of %d)", i+1, mem.Meta.Steps, mem.Meta.TargetSteps)
		case mem.Config != first.Config:
			return nil, fmt.Errorf("model: ensemble member %d has another architecture (%v) than member 1 (%v)", i+1, mem.Config, first.Config)
		}
	}
	cfg := first.Config
	cfg.Members = len(members)
	m, err := newModel(cfg, first.Meta.Seed)
	if err != nil {
		return nil, err
	}
	m.Meta.Prior, m.Meta.PriorVersion = first.Meta.Prior, first.Meta.PriorVersion
	m.Meta.Steps = first.Meta.Steps
	m.Meta.Backend, m.Meta.Version = first.Meta.Backend, first.Meta.Version
	for i, mem := range members {
		mm := mem.Meta
		if mm.Prior != m.Meta.Prior || mm.PriorVersion != m.Meta.PriorVersion {
			m.Meta.Prior, m.Meta.PriorVersion = "", ""
		}
		m.Meta.Steps = min(m.Meta.Steps, mm.Steps)
		m.Meta.Members = append(m.Meta.Members, MemberRecord{Provenance: mm.Provenance, Digest: mm.Digest})
		for v := range mem.ctx.IterVariables() {
			name := v.ScopeAndName()
			if !IsModelVariable(name) {
				continue
			}
			t, err := v.Value()
			if err == nil {
				t, err = t.LocalClone()
			}
			if err != nil {
				return nil, fmt.Errorf("model: ensemble member %d: variable %s: %w", i+1, name, err)
			}
			scope, vname := splitScopeName(name)
			if i > 0 {
				scope = "/" + memberScope(i) + strings.TrimSuffix(scope, "/")
			}
			m.ctx.InAbsPath(scope).Checked(false).VariableWithValue(vname, t).SetTrainable(true)
		}
	}
	if err := m.checkArchitecture(); err != nil {
		return nil, fmt.Errorf("model: ensemble: %w", err)
	}
	return m, nil
}
