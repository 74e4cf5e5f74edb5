package model

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/floats"

	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/problem"
)

// Strength selection. The experts head adds to the cross-validated
// mixture of classical rules what pretraining learned: logits that
// reweight the rules and corrections of the mixture's scale and shift.
// Where a portfolio is unlike the pretraining prior, what it learned can
// cost more than it gains (negative binomial portfolios of the suite:
// 14.6% regret against 10.3% for the plain mixture). Decide therefore
// scales the learned part by a strength t in StrengthGrid, chosen per
// portfolio by the cost of each t's decisions on held-out observations:
// fold j leaves out one observation of every instance with at least two,
// decides from the rest and scores the newsvendor cost of the held-out
// ones. A weaker head is chosen only when it beats the trained one (t =
// 1) by more than one paired standard error over instances, so that
// noise in small portfolios does not undo training; portfolios with no
// instance of two observations keep t = 1.
var StrengthGrid = []float64{0, 0.5, 1}

// strengthFolds caps the held-out folds (one per observation index);
// portfolios of more than strengthInstances instances choose on a
// sub-portfolio of about that many, picked by a hash of each instance's
// observations (so the choice does not depend on the instances' order),
// which bounds the selection's cost at that of a few thousand instances.
const (
	strengthFolds     = 5
	strengthInstances = 4096
)

// FullStrengthEnv, when non-empty, makes every model that New or Load
// returns skip the strength selection (Model.FullStrength), so that a
// command's tables can be rerun with the trained head alone.
const FullStrengthEnv = "PTFT_FULL_STRENGTH"

// dampedModels caches a model's copies at strengths below 1.
type dampedModels struct {
	mu sync.Mutex
	by map[float64]*Model
}

// atStrength is m with its learned head scaled by t (m itself at t = 1):
// a copy sharing m's variables, with its own compiled graphs.
func (m *Model) atStrength(t float64) *Model {
	if t == 1 {
		return m
	}
	m.damped.mu.Lock()
	defer m.damped.mu.Unlock()
	if c := m.damped.by[t]; c != nil {
		c.forceStream = m.forceStream
		return c
	}
	b := *m.b
	b.damp = 1 - t
	c := &Model{Config: m.Config, Meta: m.Meta, ctx: m.ctx, backend: m.backend, b: &b,
		forceStream: m.forceStream, FullStrength: true}
	if m.damped.by == nil {
		m.damped.by = map[float64]*Model{}
	}
	m.damped.by[t] = c
	return c
}

// selectStrength returns the strength Decide uses on p; whole lays the
// folds out whole (DecideWhole), else they stream as Decide would.
func (m *Model) selectStrength(p *data.Portfolio, whole bool) (float64, error) {
	longest := 0
	for _, o := range p.Obs {
		longest = max(longest, len(o))
	}
	if !m.Config.Experts || m.FullStrength || longest < 2 {
		return 1, nil
	}
	if k := p.Len(); k > strengthInstances {
		stride := uint64((k + strengthInstances - 1) / strengthInstances)
		sub := &data.Portfolio{Source: p.Source}
		for i, o := range p.Obs {
			if obsHash(o)%stride == 0 {
				sub.IDs, sub.Obs, sub.Ratios = append(sub.IDs, p.IDs[i]), append(sub.Obs, o), append(sub.Ratios, p.Ratios[i])
			}
		}
		if sub.Len() < 2 {
			return 1, nil
		}
		p = sub
	}
	full := len(StrengthGrid) - 1
	// cost[i][k]: instance k's held-out cost at strength StrengthGrid[i].
	cost := make([][]float64, len(StrengthGrid))
	for i := range cost {
		cost[i] = make([]float64, p.Len())
	}
	folds := min(longest, strengthFolds)
	for j := range folds {
		fold, held := heldOut(p, j, folds)
		var bt *Batch
		stream := !whole && m.streams(fold)
		if !stream {
			bt = m.NewBatch([]*data.Portfolio{fold}, 0, 0)
		}
		for i, t := range StrengthGrid {
			q, err := m.atStrength(t).decisions(fold, bt, stream)
			if err != nil {
				return 0, err
			}
			for k, x := range held {
				if !math.IsNaN(x) {
					cost[i][k] += problem.Newsvendor{}.Cost(q[k], x, p.Ratios[k])
				}
			}
		}
	}
	best, bestSum := full, floats.Sum(cost[full])
	for i := range full {
		if s := floats.Sum(cost[i]); s < bestSum {
			best, bestSum = i, s
		}
	}
	if best == full {
		return 1, nil
	}
	// The paired standard error of the total cost difference.
	n, d, dd := 0.0, 0.0, 0.0
	for k := range cost[full] {
		if held := cost[full][k] != 0 || cost[best][k] != 0; held {
			x := cost[best][k] - cost[full][k]
			n, d, dd = n+1, d+x, dd+x*x
		}
	}
	if n < 2 {
		return 1, nil
	}
	se := math.Sqrt(max(0, dd/n-(d/n)*(d/n))/(n-1)) * n
	if -d <= se {
		return 1, nil
	}
	return StrengthGrid[best], nil
}

// heldOut is fold j of folds: p with observation j*n/folds of every
// instance of n >= 2 observations left out, and the left-out values (NaN
// where an instance keeps all of its observations).
func heldOut(p *data.Portfolio, j, folds int) (*data.Portfolio, []float64) {
	f := &data.Portfolio{Source: p.Source, IDs: p.IDs, Ratios: p.Ratios, Obs: make([][]float64, p.Len())}
	held := make([]float64, p.Len())
	for k, o := range p.Obs {
		if len(o) < 2 {
			f.Obs[k], held[k] = o, math.NaN()
			continue
		}
		h := j * len(o) / folds
		f.Obs[k] = append(append(make([]float64, 0, len(o)-1), o[:h]...), o[h+1:]...)
		held[k] = o[h]
	}
	return f, held
}
