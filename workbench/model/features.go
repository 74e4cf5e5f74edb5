package model

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

// NumFeatures is the number of per-instance summary features of the
// legacy layout (NumExpertFeatures: the experts layout's).
const NumFeatures = 12

// legacyHeadWidth is the legacy head input: instance mean, portfolio
// spread, z_rho.
const legacyHeadWidth = 3

// Batch is B portfolios laid out for the model: K instances and N
// observations per instance, padded and masked. All values are divided by
// their portfolio's scale; decisions come back multiplied by it.
type Batch struct {
	B, K, N int
	// F is the feature width (NumFeatures, or NumExpertFeatures for the
	// experts layout) and H the head-input width.
	F, H    int
	Obs     []float32 // [B,K,N,2]: scaled observation, and minus the instance mean
	ObsMask []float32 // [B,K,N]: 1 for a real observation
	Inst    []float32 // [B,K]: 1 for a real instance
	Feats   []float32 // [B,K,F]
	// Head [B,K,H] is what the head reads besides the network's state:
	// legacy, the instance mean, the portfolio's pooled within-instance
	// std and z_rho (scaled); experts layout, the correction scale, z_rho,
	// two constant-instance flags, the NumExperts expert decisions and
	// their cross-validated log costs (experts.go). An
	// instance whose two or more observations are all equal is flagged
	// "certain" in a portfolio with non-integer data, where repeated equal
	// values of a continuous demand mean the demand is that constant, and
	// "possible" in an integer portfolio, where equal counts are common
	// and the model learns how far to trust them.
	Head []float32
	// Scale [B*K] is what each instance's values were divided by: its
	// portfolio's scale, or (a model without cross-instance attention)
	// the instance's own; decision i in the data's units is q_i Scale[i].
	Scale []float64
	Sizes []int // real K of each portfolio
}

// portfolioScale is the portfolio's robust scale: the median of its
// instances' means (else the mean of all observations, else 1). It is
// permutation invariant and multiplies by c when every observation does.
func portfolioScale(p *data.Portfolio) float64 {
	means := make([]float64, p.Len())
	all, n := 0.0, 0
	for k, o := range p.Obs {
		s := 0.0
		for _, x := range o {
			s += x
		}
		all += s
		n += len(o)
		means[k] = s / float64(len(o))
	}
	if med := median(means); med > 0 {
		return med
	}
	if all > 0 {
		return all / float64(n)
	}
	return 1
}

// NewBatch lays out portfolios, padding every one to k instances and n
// observations (0: the largest present), with portfolio-level scale and
// statistics. Portfolios must be valid.
func NewBatch(ps []*data.Portfolio, k, n int) *Batch { return newBatchOf(ps, k, n, layout{}) }

// layout is how a model wants its batches: each instance alone (no
// cross-instance attention), with the experts features, and (pretraining
// only) with the nonparametric experts fitted on small grids.
// logSmoothing, where not 0, fixes the npmle-log expert's smoothing of G
// (baseline.FitLogMixture), which the fit otherwise chooses.
type layout struct {
	isolated, experts, trainingFits bool
	logSmoothing                    int
}

func (c Config) layout() layout { return layout{isolated: c.NoCrossAttention, experts: c.Experts} }

// NewBatch lays out portfolios for m: as the package's NewBatch, except
// that a model without cross-instance attention sees each instance alone
// (its own scale and statistics), so that it decides each instance from
// that instance's data only.
func (m *Model) NewBatch(ps []*data.Portfolio, k, n int) *Batch {
	return newBatchOf(ps, k, n, m.Config.layout())
}

// NewTrainingBatch is NewBatch for pretraining steps: the nonparametric
// experts of small portfolios are fitted on small grids with few EM
// iterations (experts.go), as every step fits them afresh. Decisions and
// finetuning lay their batches out with NewBatch, whose fits are
// npmle-log's own, so that the experts the head mixes and the strength
// selection's fallback rules decide as the classical methods do.
// Deciding with the small grids instead, so that at K <= logMixLarge
// the head mixes the fits it was trained on, was measured and left out:
// the suite average went from 9.80% to 9.84% (bimodal K = 100 5.53% ->
// 6.36%, gamma-Poisson n = 10 K = 100 5.76% -> 6.34%), lognormal K = 100
// 9.61% -> 9.64%.
func (m *Model) NewTrainingBatch(ps []*data.Portfolio, k, n int) *Batch {
	lay := m.Config.layout()
	lay.trainingFits = true
	return newBatchOf(ps, k, n, lay)
}

func newBatchOf(ps []*data.Portfolio, k, n int, lay layout) *Batch {
	for _, p := range ps {
		k = max(k, p.Len())
		for _, o := range p.Obs {
			n = max(n, len(o))
		}
	}
	b := newBatch(len(ps), k, n, lay.experts)
	// Portfolios are laid out concurrently: with the experts layout their
	// fits are most of a pretraining step's CPU time, which on an XLA
	// backend (one shard a step) would otherwise run on one core. Each
	// portfolio writes only its own rows, so the batch does not depend on
	// scheduling.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for bi, p := range ps {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b.Sizes[bi] = p.Len()
			if lay.isolated {
				for ki := range p.Obs {
					one, st := alone(p, ki, lay)
					b.setRow(bi*k+ki, one, 0, &st)
				}
				return
			}
			st := newPortfolioStats(p, lay)
			for ki := range p.Obs {
				b.setRow(bi*k+ki, p, ki, &st)
			}
		})
	}
	wg.Wait()
	return b
}

// alone returns instance ki of p as a portfolio of its own, and its stats.
func alone(p *data.Portfolio, ki int, lay layout) (*data.Portfolio, portfolioStats) {
	one := &data.Portfolio{Source: p.Source, IDs: p.IDs[ki : ki+1], Obs: p.Obs[ki : ki+1], Ratios: p.Ratios[ki : ki+1]}
	return one, newPortfolioStats(one, lay)
}

// newRowsBatch lays out instances idx of p (a chunk of a large portfolio)
// as one portfolio of rows instances and n observations, with p's
// portfolio-level statistics st (nil: each instance alone), so that each
// row holds exactly what NewBatch would give that instance.
func newRowsBatch(p *data.Portfolio, st *portfolioStats, idx []int, rows, n int, lay layout) *Batch {
	b := newBatch(1, rows, n, lay.experts)
	b.Sizes[0] = len(idx)
	for r, ki := range idx {
		if st == nil {
			one, own := alone(p, ki, lay)
			b.setRow(r, one, 0, &own)
			continue
		}
		b.setRow(r, p, ki, st)
	}
	return b
}

// widths are a layout's feature and head-input widths.
func widths(experts bool) (features, head int) {
	if experts {
		return NumExpertFeatures, expertHeadWidth
	}
	return NumFeatures, legacyHeadWidth
}

func newBatch(bsz, k, n int, experts bool) *Batch {
	f, h := widths(experts)
	b := &Batch{B: bsz, K: k, N: n, F: f, H: h,
		Obs: make([]float32, bsz*k*n*2), ObsMask: make([]float32, bsz*k*n), Inst: make([]float32, bsz*k),
		Feats: make([]float32, bsz*k*f), Head: make([]float32, bsz*k*h),
		Scale: make([]float64, bsz*k), Sizes: make([]int, bsz)}
	for i := range b.Scale {
		b.Scale[i] = 1 // padding rows
	}
	return b
}

// scaledMoments are a portfolio's instance means and within-instance sums
// of squared deviations on its observations divided by a scale, and its
// instances' observation counts.
type scaledMoments struct {
	means, ss []float64
	n         []int
}

func newScaledMoments(p *data.Portfolio, s float64) scaledMoments {
	k := p.Len()
	m := scaledMoments{means: make([]float64, k), ss: make([]float64, k), n: make([]int, k)}
	for i, o := range p.Obs {
		mean := 0.0
		for _, x := range o {
			mean += x / s
		}
		mean /= float64(len(o))
		for _, x := range o {
			m.ss[i] += (x/s - mean) * (x/s - mean)
		}
		m.means[i], m.n[i] = mean, len(o)
	}
	return m
}

// portfolioStats are the portfolio-level inputs: the scale, the scaled
// instance means, their grand mean and spread, and the pooled
// within-instance std.
type portfolioStats struct {
	scale, grand, pooledSD, between, spread float64
	means                                   []float64
	ex                                      *expertStats // experts layout only
}

func newPortfolioStats(p *data.Portfolio, lay layout) portfolioStats {
	s := portfolioScale(p)
	mom := newScaledMoments(p, s)
	means := mom.means
	ssw, dfw, grand := 0.0, 0.0, 0.0
	for ki, m := range means {
		grand += m
		ssw += mom.ss[ki]
		dfw += float64(mom.n[ki] - 1)
	}
	grand /= float64(p.Len())
	pooledSD := 0.0
	if dfw > 0 {
		pooledSD = math.Sqrt(ssw / dfw)
	}
	between := 0.0
	for _, m := range means {
		between += (m - grand) * (m - grand)
	}
	between = math.Sqrt(between / float64(p.Len()))
	spread := pooledSD
	if spread == 0 {
		spread = max(between, 1e-3)
	}
	st := portfolioStats{scale: s, grand: grand, pooledSD: pooledSD, between: between, spread: spread, means: means}
	if lay.experts {
		st.ex = newExpertStats(p, s, mom, lay)
	}
	return st
}

// row holds what every layout computes of instance ki: its observations
// scaled and sorted, their mean, its ratio, z_rho and SAA quantile.
type row struct {
	sorted       []float64
	mean, rho, z float64
	saa          float64
}

func (st *portfolioStats) row(p *data.Portfolio, ki int) row {
	o := p.Obs[ki]
	sorted := make([]float64, len(o))
	for j, x := range o {
		sorted[j] = x / st.scale
	}
	slices.Sort(sorted)
	rho := p.Ratios[ki]
	return row{sorted: sorted, mean: st.means[ki], rho: rho, z: distuv.UnitNormal.Quantile(rho),
		saa: sorted[baseline.OrderIndex(len(sorted), rho)-1]}
}

// experts fills ex (NumExperts) with instance ki's expert decisions in
// scaled units and returns the head's correction scale.
func (st *portfolioStats) experts(ex []float64, p *data.Portfolio, ki int, r row) float64 {
	var corr float64
	if g := grossError(p.Obs[ki], st.ex.winsorCap()*st.scale); g >= 0 && !st.ex.apart(ki) {
		// Every rule but the winsorized one takes a gross error at face
		// value, and the mixture's weights are the portfolio's, so an
		// instance selling about 200 with one observation of 2e5 was
		// ordered 1,050 (the rules: 243 to 2e5): the rules decide it from
		// its other observations.
		corr = st.ex.expertsLeavingOut(ex, p.Obs[ki], g, st.scale, r.rho, r.z, &leaveOut{})
	} else {
		corr = st.ex.experts(ex, p.Obs[ki], st.ex.logMeans[ki], st.scale, r.mean, r.saa, r.rho, r.z)
	}
	if st.ex.apart(ki) {
		// No pooled rule's fit describes the instance, so each would decide
		// it as one of the portfolio it is not (a product selling 10^7 a
		// day among products selling 5 got 10 from npmle-log and an order
		// of 5.8e6 from the head): SAA, the one rule that needs no fit,
		// speaks for all, and the head's additive correction is scaled by
		// the instance's own predictive spread, not the portfolio's (which
		// floored the order of a product selling 1-2 among products
		// selling 10^4 at zero).
		for j := range ex {
			ex[j] = ex[0]
		}
		o := p.Obs[ki]
		sd := 0.0
		if n := len(o); n > 1 {
			for _, x := range o {
				sd += (x/st.scale - r.mean) * (x/st.scale - r.mean)
			}
			sd = math.Sqrt(sd / float64(n-1) * (1 + 1/float64(n)))
		}
		corr = sd
	}
	return corr
}

// grossErrorRatio is how many times an instance's second-largest
// observation its largest must exceed, beside the portfolio's winsorizing
// cap, to be taken for a gross error: at 10, heavy-tailed products'
// largest days were taken for errors too (suite lognormal K = 1,000:
// 10.78% -> 10.95%; at 20, 10.78%), while the suite's gross errors, 50
// times the portfolio's mean, stand 20 to 50 times above their product's
// other days.
const grossErrorRatio = 20

// grossError is the index of o's gross error, -1 where there is none: its
// largest observation, when it exceeds hi and grossErrorRatio times every
// other observation.
func grossError(o []float64, hi float64) int {
	if len(o) < 2 {
		return -1
	}
	g := floats.MaxIdx(o)
	second := 0.0
	for j, x := range o {
		if j != g {
			second = max(second, x)
		}
	}
	if o[g] > hi && o[g] > grossErrorRatio*second {
		return g
	}
	return -1
}

// expertDecisions returns, for an experts model, each expert's decisions
// on p in p's units, floored at zero: exactly the rules the head mixes
// (from each instance's own statistics in an isolated layout), without
// laying p out. st, when not nil, are p's statistics already computed
// for a non-isolated layout.
func (m *Model) expertDecisions(p *data.Portfolio, st *portfolioStats) [NumExperts][]float64 {
	var out [NumExperts][]float64
	for e := range out {
		out[e] = make([]float64, p.Len())
	}
	lay := m.Config.layout()
	if st == nil && !lay.isolated {
		own := newPortfolioStats(p, lay)
		st = &own
	}
	var ex [NumExperts]float64
	for ki := range p.Obs {
		q, qi, qs := p, ki, st
		if lay.isolated {
			one, own := alone(p, ki, lay)
			q, qi, qs = one, 0, &own
		}
		qs.experts(ex[:], q, qi, qs.row(q, qi))
		for e, v := range ex {
			out[e][ki] = max(0, v*qs.scale)
		}
	}
	return out
}

// setRow fills row i of b with instance ki of p.
func (b *Batch) setRow(i int, p *data.Portfolio, ki int, st *portfolioStats) {
	n := b.N
	r := st.row(p, ki)
	sorted := r.sorted
	nk := len(sorted)
	m := r.mean
	sd := 0.0
	for _, x := range sorted {
		sd += (x - m) * (x - m)
	}
	if nk > 1 {
		sd = math.Sqrt(sd / float64(nk-1))
	}
	med := sorted[nk/2]
	if nk%2 == 0 {
		med = (sorted[nk/2-1] + sorted[nk/2]) / 2
	}
	rho, z, saa := r.rho, r.z, r.saa
	for j, x := range sorted {
		o := (i*n + j) * 2
		b.Obs[o], b.Obs[o+1] = float32(x), float32(x-m)
		b.ObsMask[i*n+j] = 1
	}
	b.Inst[i], b.Scale[i] = 1, st.scale
	f := b.Feats[i*b.F : (i+1)*b.F]
	hd := b.Head[i*b.H : (i+1)*b.H]
	f[0], f[1], f[2], f[3], f[4] = float32(m), float32(sd), float32(sorted[0]), float32(sorted[nk-1]), float32(med)
	f[5] = float32(math.Log(float64(nk)))
	f[6] = float32(math.Log(rho / (1 - rho)))
	f[7] = float32(z)
	f[8] = float32(saa)
	f[9] = float32(st.grand)
	f[10] = float32(st.pooledSD)
	f[11] = float32(st.between)
	if st.ex == nil {
		hd[0], hd[1], hd[2] = float32(m), float32(st.spread), float32(z)
		return
	}
	var ex [NumExperts]float64
	corr := st.experts(ex[:], p, ki, r)
	allEqual := nk > 1 && sorted[0] == sorted[nk-1]
	zeros := 0
	for _, x := range sorted {
		if x == 0 {
			zeros++
		}
	}
	st.ex.features(f, ki, nk, m, allEqual, float64(zeros)/float64(nk), ex[:])
	hd[0], hd[1] = float32(max(corr, 1e-6)), float32(z)
	switch {
	case allEqual && st.ex.integer:
		hd[2] = 1
	case allEqual:
		hd[3] = 1
	}
	for j, v := range ex {
		hd[4+j] = float32(v)
	}
	for j, v := range st.ex.cv {
		hd[4+NumExperts+j] = float32(v)
	}
}
