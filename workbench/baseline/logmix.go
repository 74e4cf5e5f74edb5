package baseline

import (
	"fmt"
	"math"
	"slices"

	"github.com/ptft-lab/ptft/workbench/data"
)

// LogDeconvolution is nonparametric empirical Bayes on log demand with an
// estimated noise distribution: y = log(x + c) = theta_k + e, with the
// product locations theta_k ~ G and the within-product deviations e ~ F,
// both discrete (G on a grid of atoms, F a histogram on a grid of bins)
// and fitted jointly by EM on the portfolio's observations. Where eb-log
// assumes both normal and npmle assumes a normal F, this one assumes
// neither: demand whose shape is common to the portfolio's products up to
// scale (skewed, two-mode, heavy-tailed) is what it models, since a scale
// family is a location family of log demand. Repeated observations of a
// product identify F (Kotlarski); an observation far outside every
// product's range has the floor density, so a gross error barely moves
// the fit. The offset c is LogEB's (0 without zeros), so decisions scale
// with the data.
type LogDeconvolution struct {
	// Atoms of G (0: 50), Bins of F (0: 64), EM Iterations (0: 30).
	Atoms, Bins, Iterations int
	// Smoothing is the number of passes of a [1 2 1]/4 kernel over G
	// after each EM step: 0 chooses between none and smoothPasses by
	// held-out likelihood (see FitLogMixture), negative is none.
	Smoothing int
}

func (LogDeconvolution) Name() string { return "npmle-log" }

// LogMixture is a fitted LogDeconvolution.
type LogMixture struct {
	Offset float64
	// Smoothing is the passes of G's smoothing the fit ran (-1: none),
	// FitLogMixture's choice where it was asked to choose.
	Smoothing int
	// Theta are G's atoms (log units) and G their weights.
	Theta, G []float64
	// F is the noise histogram: bin b covers [Lo + b H, Lo + (b+1) H).
	Lo, H float64
	F     []float64
	logf  []float64 // log density at the bin centres, floored
	off   float64   // log density off the grid
	cdf   []float64 // F's cumulative at the bin edges, len(F)+1
}

// logFloor is the density, relative to F's largest, that any deviation
// keeps: a deviation outside F's support costs log(logFloor), not -Inf.
const logFloor = 1e-4

// Fit estimates G and F from p.
func (d LogDeconvolution) Fit(p *data.Portfolio) (*LogMixture, error) {
	if err := (EmpiricalBayes{}).check(p); err != nil {
		return nil, err
	}
	c, err := (LogEB{}).Offset(p)
	if err != nil {
		return nil, fmt.Errorf("%s: npmle-log: every observation is zero", p.Source)
	}
	m, err := FitLogMixture(logObs(p, c), c, d.Atoms, d.Bins, d.Iterations, d.Smoothing)
	if err != nil {
		return nil, fmt.Errorf("%s: npmle-log: %w", p.Source, err)
	}
	return m, nil
}

// FitLogMixture fits G and F to the log observations ys (per instance)
// taken with offset c; atoms, bins and iterations 0 take the defaults,
// smoothing is LogDeconvolution's.
//
// The NPMLE of G is discrete, a few spikes, whatever the truth: where
// product means spread continuously, as sales levels do, a product's
// posterior then sits on too few atoms and its predictive is too narrow.
// Smoothing G after each EM step removes the spikes but blurs a G that
// is discrete (products of a few sizes), so smoothing 0 chooses by the
// data: G and F are fitted on the even instances and scored by the
// marginal likelihood of the odd ones, and the other way round, without
// smoothing and with smoothPasses, and the better is fitted on all.
// Measured (regret %, 10 portfolios at K = 100, 3-4 at K = 1,000; none
// -> chosen, Bayes-optimal): the suite's two-mode family 4.47 -> 3.60
// (3.42) at K = 100, 2.89 -> 2.83 (2.86) at K = 1,000; its log-normal
// family 13.29 -> 12.16 (11.38) at K = 100; two-mode days of two and of
// three at K = 1,000 6.09 -> 5.98 (5.79) and 17.60 -> 17.17 (17.26).
// Products of two sizes (20 and 80, gamma days of cv 0.2, n = 5) keep
// the spikes at K = 1,000 (0.33%; always smoothing: 4.51%); at K = 100
// the halves' 50 products favour smoothing there: 0.69 -> 2.63%.
func FitLogMixture(ys [][]float64, c float64, atoms, bins, iterations, smoothing int) (*LogMixture, error) {
	if smoothing == 0 {
		smoothing = chooseSmoothing(ys, c, atoms, bins, iterations)
	}
	m, err := fitLogMixture(ys, c, atoms, bins, iterations, max(0, smoothing))
	if err != nil {
		return nil, err
	}
	m.Smoothing = smoothing
	return m, nil
}

// smoothPasses is the smoothing FitLogMixture chooses against none: on
// the two-mode and log-normal families above, 1, 3, 6 and 10 passes gave
// 3.65, 3.60, 3.57, 3.55% and 12.51, 12.16, 12.00, 11.92% at K = 100,
// within 0.1 of each other at K = 1,000.
const smoothPasses = 3

// smoothSample is the most instances chooseSmoothing fits its halves on:
// above, every stride-th instance. At K = 10^5 (`ptft run E5`) npmle-log
// took 5.5 s choosing on all instances, against 2.1 s without the
// choice.
const smoothSample = 8192

// smoothHalf is the fewest instances in each half with which
// chooseSmoothing compares; below, G is not smoothed.
const smoothHalf = 20

// chooseSmoothing returns smoothPasses or -1 (none), whichever fits of
// half of ys give the other half the higher marginal likelihood. The
// halves' fits run half of the EM iterations: with all of them the
// suite (`ptft suite`) took 1 min 36 s against 1 min 08 s without the
// choice, with half 1 min 20 s, and the default model's regret was the
// same in every cell.
func chooseSmoothing(ys [][]float64, c float64, atoms, bins, iterations int) int {
	e, o := alternateHalves(len(ys), (len(ys)+smoothSample-1)/smoothSample)
	even, odd := rowsOf(ys, e), rowsOf(ys, o)
	if len(odd) < smoothHalf {
		return -1
	}
	best, bestLL := -1, math.Inf(-1)
	its := orDefault(iterations, 30) / 2
	for _, s := range []int{-1, smoothPasses} {
		ll := 0.0
		for _, h := range [2][2][][]float64{{even, odd}, {odd, even}} {
			m, err := fitLogMixture(h[0], c, atoms, bins, its, max(0, s))
			if err != nil {
				return -1
			}
			ll += m.logMarginal(h[1])
		}
		if ll > bestLL {
			best, bestLL = s, ll
		}
	}
	return best
}

// logMarginal is the log marginal likelihood of the instances' log
// observations ys under G and F.
func (m *LogMixture) logMarginal(ys [][]float64) float64 {
	total := 0.0
	ll := make([]float64, len(m.Theta))
	for _, y := range ys {
		top := m.logJoint(ll, y)
		s := 0.0
		for _, l := range ll {
			s += math.Exp(l - top)
		}
		total += top + math.Log(s)
	}
	return total
}

// fitLogMixture is FitLogMixture with smoothing passes over G after
// each EM step. G's atoms are evenly spaced at a whole number of F's
// bins, so that an observation's deviations from successive atoms fall
// on the same fraction of successive bins: the EM steps then read F's
// table without recomputing positions.
func fitLogMixture(ys [][]float64, c float64, atoms, bins, iterations, smoothing int) (*LogMixture, error) {
	atoms, bins, iterations = orDefault(atoms, 50), orDefault(bins, 64), orDefault(iterations, 30)
	means, res, _ := meansAndResiduals(ys)
	if len(res) == 0 {
		return nil, fmt.Errorf("needs an instance with two or more observations to estimate the noise distribution")
	}
	slices.Sort(res)
	at := func(q float64) float64 { return res[min(len(res)-1, int(q*float64(len(res))))] }
	lo0, hi0 := at(0.001), at(0.999)
	w := max(hi0-lo0, 1e-9*(1+math.Abs(means[0])))
	m := &LogMixture{Offset: c, Lo: lo0 - 0.25*w, H: 1.5 * w / float64(bins)}
	lo, hi := slices.Min(means), slices.Max(means)
	step := max(1, int(math.Ceil((hi-lo)/(m.H*float64(max(1, atoms-1))))))
	na := int(math.Floor((hi-lo)/(float64(step)*m.H))) + 2
	if hi == lo {
		na = 1
	}
	m.Theta = make([]float64, na)
	for a := range m.Theta {
		m.Theta[a] = lo + float64(a*step)*m.H
	}
	// G starts at the instance means' histogram, mixed with the uniform.
	m.G = make([]float64, na)
	for _, mu := range means {
		a := min(na-1, int(math.Round((mu-lo)/(float64(step)*m.H))))
		m.G[a] += 0.5 / float64(len(means))
	}
	for a := range m.G {
		m.G[a] += 0.5 / float64(na)
	}
	f := make([]float64, bins)
	for _, r := range res {
		m.addBin(f, r, 1)
	}
	m.setF(f)

	ll := make([]float64, na)
	logG := make([]float64, na)
	newG := make([]float64, na)
	var i0 []int
	var u []float64
	for range iterations {
		clear(newG)
		clear(f)
		for a, g := range m.G {
			logG[a] = math.Log(g)
		}
		for _, y := range ys {
			i0, u = i0[:0], u[:0]
			for _, v := range y {
				t := (v-lo-m.Lo)/m.H - 0.5
				fl := math.Floor(t)
				i0, u = append(i0, int(fl)), append(u, t-fl)
			}
			top := math.Inf(-1)
			for a := range ll {
				l := logG[a]
				for j, i := range i0 {
					l += m.dev(i-a*step, u[j])
				}
				ll[a] = l
				top = max(top, l)
			}
			softmaxInPlace(ll, top)
			for a, wa := range ll {
				if wa < 1e-8 {
					continue
				}
				newG[a] += wa
				for j, i := range i0 {
					b := i - a*step
					if b >= 0 && b < bins {
						f[b] += wa * (1 - u[j])
					}
					if b+1 >= 0 && b+1 < bins {
						f[b+1] += wa * u[j]
					}
				}
			}
		}
		for a := range m.G {
			m.G[a] = newG[a] / float64(len(ys))
		}
		for range smoothing {
			for a := range newG {
				newG[a] = (m.G[max(0, a-1)] + 2*m.G[a] + m.G[min(na-1, a+1)]) / 4
			}
			copy(m.G, newG)
		}
		m.setF(f)
	}
	return m, nil
}

// meansAndResiduals returns each instance's mean of ys and, pooled over
// instances of two or more, the residuals (y - mean) sqrt(n/(n-1)),
// whose spread is the noise's (a residual's variance is the noise's
// times (n-1)/n), and their degrees of freedom, the sum of n - 1 (an
// instance's residuals sum to zero).
func meansAndResiduals(ys [][]float64) (means, res []float64, dof int) {
	means = make([]float64, 0, len(ys))
	for _, y := range ys {
		n := len(y)
		mu := 0.0
		for _, v := range y {
			mu += v
		}
		mu /= float64(n)
		means = append(means, mu)
		if n > 1 {
			s := math.Sqrt(float64(n) / float64(n-1))
			for _, v := range y {
				res = append(res, (v-mu)*s)
			}
			dof += n - 1
		}
	}
	return means, res, dof
}

// orDefault is v, or def where v is not positive.
func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// addBin adds weight w at deviation e to histogram f, split linearly
// between the two nearest bin centres; what falls off the grid is dropped.
func (m *LogMixture) addBin(f []float64, e, w float64) {
	t := (e-m.Lo)/m.H - 0.5
	fl := math.Floor(t)
	b, u := int(fl), t-fl
	if b >= 0 && b < len(f) {
		f[b] += w * (1 - u)
	}
	if b+1 >= 0 && b+1 < len(f) {
		f[b+1] += w * u
	}
}

// setF smooths histogram f with a [1 2 1]/4 kernel (an unsmoothed EM
// histogram collapses onto spikes), normalises it, and sets F, its log
// density and its cumulative.
func (m *LogMixture) setF(f []float64) {
	b := len(f)
	s := make([]float64, b)
	total := 0.0
	for i := range f {
		l, r := f[max(0, i-1)], f[min(b-1, i+1)]
		s[i] = (l + 2*f[i] + r) / 4
		total += s[i]
	}
	m.F, m.logf, m.cdf = s, make([]float64, b), make([]float64, b+1)
	if total <= 0 {
		for i := range s {
			s[i] = 1 / float64(b)
		}
		total = 1
	}
	top := 0.0
	for i := range s {
		s[i] /= total
		top = max(top, s[i])
		m.cdf[i+1] = m.cdf[i] + s[i]
	}
	for i := range s {
		m.logf[i] = math.Log((s[i] + logFloor*top) / m.H)
	}
	m.cdf[b] = 1
	m.off = math.Log(0.5 * logFloor * top / m.H)
}

// logDensity is F's log density at deviation e, interpolated between bin
// centres, floored off the grid.
func (m *LogMixture) logDensity(e float64) float64 {
	t := (e-m.Lo)/m.H - 0.5
	fl := math.Floor(t)
	return m.dev(int(fl), t-fl)
}

// dev is the log density a fraction u of the way from bin centre i to
// i+1, the density off the grid beyond the outer centres.
func (m *LogMixture) dev(i int, u float64) float64 {
	b := len(m.logf)
	switch {
	case i >= 0 && i < b-1:
		return m.logf[i]*(1-u) + m.logf[i+1]*u
	case i == -1:
		return m.off*(1-u) + m.logf[0]*u
	case i == b-1:
		return m.logf[b-1]*(1-u) + m.off*u
	}
	return m.off
}

// posterior fills ll with the log likelihoods of log observations y at
// the atoms and returns (in ll) the posterior weights over the atoms.
func (m *LogMixture) posterior(ll, y []float64) []float64 {
	softmaxInPlace(ll, m.logJoint(ll, y))
	return ll
}

// logJoint fills ll with the log of G's weight times the likelihood of
// log observations y at each atom, and returns the largest.
func (m *LogMixture) logJoint(ll, y []float64) float64 {
	top := math.Inf(-1)
	for a, th := range m.Theta {
		if m.G[a] <= 0 {
			ll[a] = math.Inf(-1)
			continue
		}
		l := math.Log(m.G[a])
		for _, v := range y {
			l += m.logDensity(v - th)
		}
		ll[a] = l
		top = max(top, l)
	}
	return top
}

// softmaxInPlace turns log weights ll, of maximum top, into probabilities.
func softmaxInPlace(ll []float64, top float64) {
	total := 0.0
	for a, l := range ll {
		ll[a] = math.Exp(l - top)
		total += ll[a]
	}
	for a := range ll {
		ll[a] /= total
	}
}

// Quantile returns the rho-quantile of the posterior-predictive demand of
// an instance with observations obs (data units), floored at zero. The
// atoms sit a whole number of bins apart, so the predictive cumulative is
// piecewise linear between the points lo + Lo + i H (lo the first atom):
// a search over those points and one interpolation give it exactly.
func (m *LogMixture) Quantile(obs []float64, rho float64) float64 {
	y := make([]float64, len(obs))
	for j, x := range obs {
		y[j] = math.Log(x + m.Offset)
	}
	post := m.posterior(make([]float64, len(m.Theta)), y)
	var idx []int
	for a, w := range post {
		if w > 1e-12 {
			idx = append(idx, a)
		}
	}
	step := 1
	if len(m.Theta) > 1 {
		step = int(math.Round((m.Theta[1] - m.Theta[0]) / m.H))
	}
	b := len(m.F)
	// cdf at point i: sum_a post_a F's cumulative at edge i - a step.
	cdf := func(i int) float64 {
		s := 0.0
		for _, a := range idx {
			e := i - a*step
			switch {
			case e >= b:
				s += post[a]
			case e > 0:
				s += post[a] * m.cdf[e]
			}
		}
		return s
	}
	lo, hi := idx[0]*step, idx[len(idx)-1]*step+b // cdf(lo) = 0, cdf(hi) = 1
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if cdf(mid) >= rho {
			hi = mid
		} else {
			lo = mid
		}
	}
	c0, c1 := cdf(lo), cdf(hi)
	t := float64(hi)
	if c1 > c0 {
		t = float64(lo) + (rho-c0)/(c1-c0)
	}
	return max(0, math.Exp(m.Theta[0]+m.Lo+t*m.H)-m.Offset)
}

func (d LogDeconvolution) Decide(p *data.Portfolio) ([]float64, error) {
	m, err := d.Fit(p)
	if err != nil {
		return nil, err
	}
	q := make([]float64, p.Len())
	parallelFor(p.Len(), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			q[k] = m.Quantile(p.Obs[k], p.Ratios[k])
		}
	})
	return q, nil
}

// alternateHalves splits every stride-th of n instances into two
// halves, alternately: the even and the odd ones among them.
func alternateHalves(n, stride int) (even, odd []int) {
	for i := 0; i < n; i += stride {
		if (i/stride)%2 == 0 {
			even = append(even, i)
		} else {
			odd = append(odd, i)
		}
	}
	return even, odd
}

// rowsOf is ys's rows idx.
func rowsOf(ys [][]float64, idx []int) [][]float64 {
	out := make([][]float64, len(idx))
	for i, k := range idx {
		out[i] = ys[k]
	}
	return out
}

// LogMixtureGain is how much better npmle-log's model describes the log
// observations of p than eb-log's normal-normal one, out of sample: the
// log marginal likelihood of each half of p's instances (alternate ones)
// under npmle-log's fit on the other half, less the same under eb-log's
// fit (its moment estimates) on it, summed over both halves. Where
// products come in a few sizes, G's atoms describe them and eb-log's
// normal G does not; where G is normal, npmle-log's freedom fits each
// half's noise and loses out of sample.
func LogMixtureGain(p *data.Portfolio) (float64, error) {
	if err := (EmpiricalBayes{}).check(p); err != nil {
		return 0, err
	}
	c, err := (LogEB{}).Offset(p)
	if err != nil {
		return 0, err
	}
	lp := *p
	lp.Obs = logObs(p, c)
	even, odd := alternateHalves(lp.Len(), 1)
	if len(odd) < smoothHalf {
		return 0, fmt.Errorf("%s: npmle-log against eb-log: %d instances, want %d or more", p.Source, lp.Len(), 2*smoothHalf)
	}
	gain := 0.0
	for _, h := range [2][2][]int{{even, odd}, {odd, even}} {
		fit, held := lp.Subset(h[0]), lp.Subset(h[1])
		m, err := FitLogMixture(fit.Obs, c, 0, 0, 0, 0)
		if err != nil {
			return 0, err
		}
		nn, err := estimateNormal(fit, Moments)
		if err != nil {
			return 0, err
		}
		gain += m.logMarginal(held.Obs) - normalNormalLogMarginal(held, nn)
	}
	return gain, nil
}

// normalNormalLogMarginal is the log marginal likelihood of p's
// observations under y = theta + e, theta ~ N(h.Mu0, h.Tau^2),
// e ~ N(0, h.Sigma^2).
func normalNormalLogMarginal(p *data.Portfolio, h Hyper) float64 {
	s2, t2 := max(h.Sigma*h.Sigma, 1e-12), h.Tau*h.Tau
	st := statsOf(p)
	total := 0.0
	for i, n := range st.n {
		v := s2 + n*t2
		d := st.mean[i] - h.Mu0
		total += -n/2*math.Log(2*math.Pi) - (n-1)/2*math.Log(s2) - 0.5*math.Log(v) -
			st.ss[i]/(2*s2) - n*d*d/(2*v)
	}
	return total
}
