package dist

import (
	"fmt"
	"math"
)

// Spec is the serialisable description of a Distribution, as stored in truth
// files. Family is one of normal (mu, sigma), lognormal (mu, sigma of the
// log), gamma (shape, rate), poisson (lambda), negbinomial (r, p), discrete
// (Support, Probs), empirical (Support holds the sample), mixture
// (Weights, Components) and censored (max(0, X) for X its one component).
type Spec struct {
	Family     string             `json:"family"`
	Params     map[string]float64 `json:"params,omitempty"`
	Support    []float64          `json:"support,omitempty"`
	Probs      []float64          `json:"probs,omitempty"`
	Weights    []float64          `json:"weights,omitempty"`
	Components []Spec             `json:"components,omitempty"`
}

// Build validates the spec and returns its distribution.
func (s Spec) Build() (Distribution, error) {
	param := func(name string, positive bool) (float64, error) {
		v, ok := s.Params[name]
		if !ok {
			return 0, fmt.Errorf("dist: %s spec lacks parameter %q", s.Family, name)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || (positive && !(v > 0)) {
			return 0, fmt.Errorf("dist: %s parameter %q is %v", s.Family, name, v)
		}
		return v, nil
	}
	two := func(a string, pa bool, b string, pb bool) (float64, float64, error) {
		x, err := param(a, pa)
		if err != nil {
			return 0, 0, err
		}
		y, err := param(b, pb)
		return x, y, err
	}
	switch s.Family {
	case "normal":
		mu, sigma, err := two("mu", false, "sigma", true)
		return Normal{mu, sigma}, err
	case "lognormal":
		mu, sigma, err := two("mu", false, "sigma", true)
		return LogNormal{mu, sigma}, err
	case "gamma":
		shape, rate, err := two("shape", true, "rate", true)
		return Gamma{shape, rate}, err
	case "poisson":
		l, err := param("lambda", true)
		return Poisson{l}, err
	case "negbinomial":
		r, p, err := two("r", true, "p", true)
		if err == nil && p >= 1 {
			err = fmt.Errorf("dist: negbinomial parameter \"p\" is %v, must be < 1", p)
		}
		return NegBinomial{r, p}, err
	case "discrete":
		return NewDiscrete(s.Support, s.Probs)
	case "empirical":
		return NewEmpirical(s.Support)
	case "mixture":
		comps := make([]Distribution, len(s.Components))
		for i, c := range s.Components {
			d, err := c.Build()
			if err != nil {
				return nil, fmt.Errorf("mixture component %d: %w", i, err)
			}
			comps[i] = d
		}
		return NewMixture(s.Weights, comps...)
	case "censored":
		if len(s.Components) != 1 {
			return nil, fmt.Errorf("dist: censored spec needs one component, has %d", len(s.Components))
		}
		d, err := s.Components[0].Build()
		if err != nil {
			return nil, fmt.Errorf("censored component: %w", err)
		}
		return Censored{d}, nil
	case "":
		return nil, fmt.Errorf("dist: spec has no family")
	}
	return nil, fmt.Errorf("dist: unknown family %q", s.Family)
}
