// Package data holds ptft's portfolio type and its file formats: the one
// long-format CSV reader (observations and decisions), the truth-file JSON
// format and atomic writes that never leave a half-written output.
//
// Observation CSV: header `instance,value` (other columns ignored), one row
// per observation; instance ids are strings and need not be contiguous; an
// optional `critical_ratio` column gives each instance's ratio. Decision CSV:
// header `instance,quantity`, one row per instance.
package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
)

// Portfolio is K instances of one decision problem: the observations of each
// instance, its critical ratio and, for synthetic data, its true demand
// distribution.
type Portfolio struct {
	// Source names where the portfolio came from (a file name), for errors.
	Source string
	IDs    []string
	Obs    [][]float64
	Ratios []float64
	// Support optionally gives each instance the values of a common set of
	// d support slots (binned data such as Rossmann: slot i of every
	// instance is its i-th bin). Data-pooling methods use it as the common
	// support; nil for continuous data.
	Support [][]float64
	// CostWeights optionally weighs instance k's cost by CostWeights[k] in
	// objectives fitted to the data (finetuning's held-out cost); nil means
	// 1 each. BinUnits sets them, so that a portfolio in bin units keeps the
	// firm's objective.
	CostWeights []float64
}

// Len returns the number of instances.
func (p *Portfolio) Len() int { return len(p.IDs) }

// Subset returns the portfolio of p's instances idx, in that order, with
// their observations, ratios, supports and cost weights (shared with p,
// not copied).
func (p *Portfolio) Subset(idx []int) *Portfolio {
	sub := &Portfolio{Source: p.Source, IDs: make([]string, len(idx)), Obs: make([][]float64, len(idx)), Ratios: make([]float64, len(idx))}
	if p.Support != nil {
		sub.Support = make([][]float64, len(idx))
	}
	if p.CostWeights != nil {
		sub.CostWeights = make([]float64, len(idx))
	}
	for j, i := range idx {
		sub.IDs[j], sub.Obs[j], sub.Ratios[j] = p.IDs[i], p.Obs[i], p.Ratios[i]
		if p.Support != nil {
			sub.Support[j] = p.Support[i]
		}
		if p.CostWeights != nil {
			sub.CostWeights[j] = p.CostWeights[i]
		}
	}
	return sub
}

// NumObs returns the total number of observations.
func (p *Portfolio) NumObs() int {
	n := 0
	for _, o := range p.Obs {
		n += len(o)
	}
	return n
}

// Validate checks the invariants every policy relies on, naming the first
// offending instance: at least one instance, each with at least one finite,
// non-negative observation and a ratio in (0,1).
func (p *Portfolio) Validate() error {
	if p.Len() == 0 {
		return fmt.Errorf("%s: portfolio has no instances", p.source())
	}
	if len(p.Obs) != p.Len() || len(p.Ratios) != p.Len() {
		return fmt.Errorf("%s: %d ids, %d observation lists and %d ratios", p.source(), p.Len(), len(p.Obs), len(p.Ratios))
	}
	if p.Support != nil && len(p.Support) != p.Len() {
		return fmt.Errorf("%s: %d supports for %d instances", p.source(), len(p.Support), p.Len())
	}
	if p.CostWeights != nil && len(p.CostWeights) != p.Len() {
		return fmt.Errorf("%s: %d cost weights for %d instances", p.source(), len(p.CostWeights), p.Len())
	}
	for k, id := range p.IDs {
		if p.CostWeights != nil && !(p.CostWeights[k] > 0 && !math.IsInf(p.CostWeights[k], 0)) {
			return fmt.Errorf("%s: instance %q: cost weight %v is not a positive finite number", p.source(), id, p.CostWeights[k])
		}
		if len(p.Obs[k]) == 0 {
			return fmt.Errorf("%s: instance %q has no observations", p.source(), id)
		}
		for _, x := range p.Obs[k] {
			if err := checkValue(x); err != nil {
				return fmt.Errorf("%s: instance %q: observation %w", p.source(), id, err)
			}
		}
		if err := CheckRatio(p.Ratios[k]); err != nil {
			return fmt.Errorf("%s: instance %q: %w", p.source(), id, err)
		}
	}
	return nil
}

func (p *Portfolio) source() string {
	if p.Source == "" {
		return "portfolio"
	}
	return p.Source
}

// CheckRatio reports a critical ratio outside (0,1).
func CheckRatio(r float64) error {
	if !(r > 0 && r < 1) {
		return fmt.Errorf("critical ratio %v outside (0,1)", r)
	}
	return nil
}

func checkValue(x float64) error {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Errorf("%v is not a finite number", x)
	case x < 0:
		return fmt.Errorf("%v is negative", x)
	}
	return nil
}

// Digest returns a hex SHA-256 of everything a method reads from p: ids,
// ratios, observations in order, support and cost weights (not Source),
// so that a checkpoint can tell whether it was made on the same data.
func (p *Portfolio) Digest() string {
	h := sha256.New()
	var b [8]byte
	num := func(x float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
		h.Write(b[:])
	}
	count := func(n int) { num(float64(n)) }
	count(len(p.IDs))
	for k, id := range p.IDs {
		count(len(id))
		h.Write([]byte(id))
		num(p.Ratios[k])
		count(len(p.Obs[k]))
		for _, x := range p.Obs[k] {
			num(x)
		}
	}
	count(len(p.Support))
	for _, s := range p.Support {
		count(len(s))
		for _, x := range s {
			num(x)
		}
	}
	count(len(p.CostWeights))
	for _, w := range p.CostWeights {
		num(w)
	}
	return hex.EncodeToString(h.Sum(nil))
}
