package model

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
)

// The experts layout (Config.Experts) gives the model robust portfolio
// statistics and, per instance, the decisions of NumExperts classical
// rules computed from them: the SAA quantile, the normal empirical-Bayes
// posterior-predictive quantile, the same on log demand, (for integer
// data) the gamma-Poisson one, the normal one on the instance's
// observations capped at winsorSDs predictive standard deviations above
// the grand mean (so that a gross error in an instance's own data does not
// decide for it), and the normal fit's posterior mean times the
// rho-quantile of the portfolio's pooled relative residuals (demand whose
// shape, skewed or two-mode, is common to the portfolio's products), the
// nonparametric npmle-log (G and F estimated on log demand) and, for
// integer data, npmle-poisson; and each rule's leave-one-out cost on the
// portfolio. The head mixes the
// rules with per-instance weights that lean to the lowest leave-one-out
// cost and corrects the mixture, so an untrained model already picks the
// rule that predicts held-out data best, and training learns what none
// of them gets right.
//
// The statistics are robust so that a few gross errors cannot move every
// product's decision: instances whose mean lies more than outlierMADs
// robust standard deviations from the median mean are left out of the
// pooled estimates, as are instances whose variance exceeds
// varianceOutlier times the median instance variance.
const (
	// NumExperts is the number of expert decisions the head mixes.
	NumExperts = 8
	// NumExpertFeatures is the feature count of the experts layout.
	NumExpertFeatures = 28 + 2*NumExperts
	// cvInstances bounds the instances the cross-validation visits.
	cvInstances = 1000
	// mixtureInstances bounds the instances the nonparametric experts
	// are fitted on: up to it they are the classical npmle-log and
	// npmle-poisson fits on the instances cvKeep marks. At
	// cvInstances, the bound before, a fit on a third of a portfolio of
	// 3,000 two-mode products (results/suite.md's family, K = 3,000,
	// scratch) decided at 5.44% or 4.97% regret as the sample fell,
	// where the classical npmle-log had 4.92%; at 4,096, 4.92%
	// (results/suite-large.md, K = 20,000: 5.31% -> 5.15%, npmle-log
	// 5.07%). The price: deciding K = 10^4 products takes 1.26 s
	// against 0.83 s (results/E5.md).
	mixtureInstances = 4096
	outlierMADs      = 8
	varianceOutlier  = 50
	winsorSDs        = 6
	// cvReference is the held-out observation count at which the
	// cross-validated log costs enter the gate as they are; with more
	// they are scaled up by sqrt(count/cvReference), as their standard
	// errors shrink, so that more data choose more firmly.
	cvReference = 500
	// The nonparametric experts' fits (npmle-log, npmle-poisson): grid
	// sizes and EM iterations kept small in pretraining batches
	// (NewTrainingBatch), as every step fits them afresh; npmle-log fits
	// on more than logMixLarge instances (never in training), and all fits
	// of decisions and finetuning, get the baselines' defaults instead, so
	// that those experts are the classical npmle-log and npmle-poisson.
	// Pretraining's npmle-log does not smooth G either (choosing would
	// triple its cost): the shipped default model was pretrained before
	// npmle-log chose its smoothing, on the unsmoothed fit throughout.
	logMixAtoms, logMixBins, logMixIterations = 32, 48, 15
	logMixLarge                               = 256
	poissonAtoms, poissonIterations           = 60, 100
)

// ExpertNames name the experts in the order the head reads them; those
// that do not apply (gamma-Poisson and npmle-poisson on non-integer data)
// repeat the normal one or the gamma-Poisson one.
var ExpertNames = [NumExperts]string{"saa", "eb", "eb-log", "eb-gamma-poisson", "eb-winsorized", "eb-residual-quantile", "npmle-log", "npmle-poisson"}

// expertHeadWidth is the experts layout's head input: the correction
// scale, z_rho, the two constant-instance flags (see Batch.Head), the
// experts, and their cross-validated costs.
const expertHeadWidth = 4 + 2*NumExperts

// cvGateScale is the initial weight of the experts' cross-validated log
// costs in the head's mixture logits: at initialisation the mixture
// leans to the experts that predict held-out observations best (a
// log-cost gap of 0.1, typical of a rule that is clearly worse, gives a
// weight e^-3 as large). Training adjusts it: the shipped default model
// learned 1 + b = 0.205 (head_cv/beta = -0.795), a scale of 6.1 (the
// 80,000-step continuations of results/models/README.md: 0.18 and
// 0.20). At the pretraining portfolios' sizes (16-128 instances) the
// held-out costs are noisy, so the trained mixture leans on them little
// and on its learned logits more. On heavy-tailed lognormal portfolios
// of K = 100 the mixture alone (strength 0) then trails eb-log, its best
// expert there, by more than the trained head does.
const cvGateScale = 30

// normalFit is a normal-normal fit of instance means: the grand mean
// Mu0, the between-instance variance Tau2 and the within-instance
// variance S2 (Within false: no instance had two observations, and S2 is
// a guess, half the variance of the means).
type normalFit struct {
	Mu0, Tau2, S2 float64
	Within        bool
	// MedVar is the kept instances' median variance (0 with none), the
	// yardstick of outlying variances.
	MedVar float64
}

// predictive is the fit's posterior-predictive mean and standard
// deviation for an instance with n observations of mean m.
func (f normalFit) predictive(m float64, n int) (mean, sd float64) {
	if f.Tau2 <= 0 {
		return f.Mu0, math.Sqrt(f.S2)
	}
	prec := 1/f.Tau2 + float64(n)/f.S2
	mean = (f.Mu0/f.Tau2 + float64(n)*m/f.S2) / prec
	return mean, math.Sqrt(f.S2 + 1/prec)
}

// shrinkage is the weight the fit puts on the grand mean for n observations.
func (f normalFit) shrinkage(n int) float64 {
	if f.Tau2 <= 0 {
		return 1
	}
	v := f.S2 / float64(n)
	return v / (v + f.Tau2)
}

// median returns the median of xs (reordered in place); 0 for none.
func median(xs []float64) float64 {
	m := len(xs)
	if m == 0 {
		return 0
	}
	slices.Sort(xs)
	if m%2 == 1 {
		return xs[m/2]
	}
	return (xs[m/2-1] + xs[m/2]) / 2
}

// keepMask marks the instances whose mean is not an outlier: within
// outlierMADs robust standard deviations (mad, 1.4826 MAD) of the median
// mean med, which it returns too. A MAD of zero keeps every instance.
func keepMask(means []float64) (keep []bool, med, mad float64) {
	med = median(slices.Clone(means))
	dev := make([]float64, len(means))
	for i, m := range means {
		dev[i] = math.Abs(m - med)
	}
	mad = 1.4826 * median(dev)
	keep = make([]bool, len(means))
	for i, m := range means {
		keep[i] = mad == 0 || math.Abs(m-med) <= outlierMADs*mad
	}
	return keep, med, mad
}

// apart says whether no pooled rule's fit describes instance i: its mean
// lies beyond outlierMADs robust standard deviations of the median on
// the log scale (logKeep), and on the raw scale too (keep) or its spread
// is far narrower than the others' (narrow). Either mean screen alone
// also drops instances that belong: the raw one the best sellers of
// skewed portfolios and instances carrying a gross error, the log one the
// smallest products of a wide normal portfolio.
func (es *expertStats) apart(i int) bool {
	return !es.logKeep[i] && (!es.keep[i] || es.narrow[i])
}

// narrowMask marks the instances with two or more observations, none of
// them zero, whose variance (ss over n-1) is below 1/varianceOutlier of
// medVar, the kept instances' median variance: spread so much narrower than the others'
// that the raw-scale fits, which give every instance the pooled spread,
// do not describe it either. Zeros say demand was floored or
// intermittent, which the pooled fits model and the instance's own
// observations do not (a wide normal portfolio's products of negative
// mean sell 0 on most days, and SAA orders their one positive day).
func narrowMask(p *data.Portfolio, ss []float64, n []int, medVar float64) []bool {
	narrow := make([]bool, len(ss))
	for i := range ss {
		narrow[i] = n[i] > 1 && slices.Min(p.Obs[i]) > 0 && varianceOutlier*ss[i]/float64(n[i]-1) < medVar
	}
	return narrow
}

// fitNormal fits a normal-normal model by moments to instance means m,
// within sums of squares ss and counts n, over the kept instances, and
// without instances of outlying variance.
func fitNormal(m, ss []float64, n []int, keep []bool) normalFit {
	var vars []float64
	for i := range m {
		if keep[i] && n[i] > 1 {
			vars = append(vars, ss[i]/float64(n[i]-1))
		}
	}
	med := median(vars)
	cut := math.Inf(1)
	if med > 0 {
		cut = varianceOutlier * med
	}
	ssw, dfw := 0.0, 0.0
	mu0, cnt := 0.0, 0.0
	for i := range m {
		if !keep[i] {
			continue
		}
		mu0 += m[i]
		cnt++
		if n[i] > 1 && ss[i]/float64(n[i]-1) <= cut {
			ssw += ss[i]
			dfw += float64(n[i] - 1)
		}
	}
	mu0 /= cnt
	v := 0.0
	for i := range m {
		if keep[i] {
			v += (m[i] - mu0) * (m[i] - mu0)
		}
	}
	if cnt > 1 {
		v /= cnt - 1
	}
	f := normalFit{Mu0: mu0, MedVar: med}
	if dfw > 0 {
		f.S2, f.Within = ssw/dfw, true
	} else {
		f.S2 = v / 2
	}
	noise := 0.0
	for i := range m {
		if keep[i] {
			noise += f.S2 / float64(n[i])
		}
	}
	f.Tau2 = max(0, v-noise/cnt)
	if f.S2 <= 0 {
		// Every kept instance is constant (or there is one instance):
		// a tiny within variance keeps the fit defined and trusts the data.
		f.S2 = max(1e-12, 1e-6*v)
	}
	return f
}

// expertStats are the experts layout's portfolio-level statistics.
type expertStats struct {
	normal, log normalFit
	logOffset   float64 // c in log(x/scale + c)
	gamma       baseline.Hyper
	integer     bool // every observation is an integer below 2^53 (counts)
	intShare    float64
	zeroShare   float64
	constShare  float64 // share of instances with n_k >= 2 equal observations
	logScale    float64
	logMeans    []float64 // per instance, mean of log(x/scale + c)
	logSS       []float64
	med, mad    float64 // of the scaled instance means
	keep        []bool
	narrow      []bool // narrowMask
	// logKeep marks the instances whose log mean is not an outlier. The
	// npmle-log fit and the cross-validation use those of them (cvKeep),
	// not the raw-scale mask, as skewed portfolios' largest products
	// (which that mask drops) are the ones that cost most; and only those
	// none of whose observations lies more than outlierMADs of the log
	// fit's total standard deviations from its grand mean: a gross error,
	// held out or not, would weigh on every expert's held-out cost and
	// stretch the fit's grid.
	logKeep, cvKeep []bool
	// residuals are the pooled relative residuals, sorted:
	// (x - mean)/mean sqrt(n/(n-1)) over kept instances with n >= 2.
	residuals []float64
	// lmix is the npmle-log fit (of the scaled data), pois the
	// npmle-poisson one (integer data, in counts); nil where none.
	lmix *baseline.LogMixture
	pois *baseline.MixingDistribution
	// cv is each expert's leave-one-out cost relative to the best
	// expert's, log(cost_e / min cost), 0 where there is none (no
	// instance with two observations): how well each rule predicts held
	// out observations of this portfolio, the signal for choosing among
	// them (scaled up with the held-out count, capped at 20).
	cv [NumExperts]float64
}

// newExpertStats computes the statistics on p's observations divided by
// scale, whose moments are m, laid out as lay says (its trainingFits asks
// for the pretraining batches' small npmle-log grids).
func newExpertStats(p *data.Portfolio, scale float64, m scaledMoments, lay layout) *expertStats {
	k := p.Len()
	es := &expertStats{logScale: math.Log(scale)}
	means, ss, n := m.means, m.ss, m.n
	minPos, total, ints, zeros, consts := math.Inf(1), 0, 0, 0, 0
	for _, o := range p.Obs {
		equal := len(o) > 1
		for _, x := range o {
			if x > 0 {
				minPos = min(minPos, x/scale)
			} else {
				zeros++
			}
			if baseline.IsCount(x) {
				ints++
			}
			equal = equal && x == o[0]
		}
		total += len(o)
		if equal {
			consts++
		}
	}
	es.integer = ints == total
	if !es.integer {
		// Continuous demand is scale free: the model sees the level only
		// of counts, whose noise depends on it, so that decisions on
		// non-integer data scale exactly with the data.
		es.logScale = 0
	}
	es.intShare, es.zeroShare = float64(ints)/float64(total), float64(zeros)/float64(total)
	es.constShare = float64(consts) / float64(k)
	es.keep, es.med, es.mad = keepMask(means)
	keep := es.keep
	es.normal = fitNormal(means, ss, n, keep)
	es.narrow = narrowMask(p, ss, n, es.normal.MedVar)
	for i, o := range p.Obs {
		if !keep[i] || len(o) < 2 || !(means[i] > 0) {
			continue
		}
		c := math.Sqrt(float64(len(o))/float64(len(o)-1)) / means[i]
		for _, x := range o {
			es.residuals = append(es.residuals, (x/scale-means[i])*c)
		}
	}
	slices.Sort(es.residuals)

	if zeros > 0 && !math.IsInf(minPos, 1) {
		es.logOffset = minPos / 2
	} else if math.IsInf(minPos, 1) {
		es.logOffset = 1 // every observation is zero
	}
	es.logMeans, es.logSS = make([]float64, k), make([]float64, k)
	// Each instance's smallest and largest log observation, for cvKeep.
	logMin, logMax := make([]float64, k), make([]float64, k)
	var ys []float64
	for i, o := range p.Obs {
		ys = ys[:0]
		s := 0.0
		for _, x := range o {
			y := math.Log(x/scale + es.logOffset)
			ys = append(ys, y)
			s += y
		}
		lm := s / float64(len(o))
		for _, y := range ys {
			d := y - lm
			es.logSS[i] += d * d
		}
		es.logMeans[i], logMin[i], logMax[i] = lm, slices.Min(ys), slices.Max(ys)
	}
	es.logKeep, _, _ = keepMask(es.logMeans)
	es.log = fitNormal(es.logMeans, es.logSS, n, es.logKeep)
	es.cvKeep = slices.Clone(es.logKeep)
	bound := outlierMADs * math.Sqrt(es.log.Tau2+es.log.S2)
	for i := range es.cvKeep {
		if max(math.Abs(logMin[i]-es.log.Mu0), math.Abs(logMax[i]-es.log.Mu0)) > bound {
			es.cvKeep[i] = false
		}
	}

	if es.integer {
		// Gamma-Poisson by moments in the data's units (counts are not
		// scale free), over the instances the log screen keeps (cvKeep),
		// as npmle-poisson (fitMixtures): on low, skewed counts the
		// raw-scale screen (keep) drops the best sellers as outliers,
		// the prior comes out too narrow, and they are shrunk to the
		// crowd (gamma-Poisson, mean 0.7, shape 0.44, K = 1,000, n = 5,
		// seeds 1-3: the default 17.12 / 18.70 / 16.50% regret against
		// eb-gamma-poisson's 16.01 / 16.71 / 14.35%; fitted over cvKeep,
		// 16.04 / 16.66 / 14.56%). On the suites: results/suite.md and
		// suite-stress.md unchanged; suite-seeds 9.860% -> 9.854%
		// (gamma-Poisson n = 5 K = 100 10.09 -> 9.99, n = 10 6.13 -> 6.09,
		// intermittent K = 100 8.17 -> 8.10); suite-outside 12.732% ->
		// 12.732% (gamma-Poisson mean 1 K = 1,000 13.52 -> 13.53).
		mean, cnt, v, noise := 0.0, 0.0, 0.0, 0.0
		for i := range means {
			if es.cvKeep[i] {
				mean += means[i] * scale
				cnt++
			}
		}
		mean /= cnt
		for i := range means {
			if es.cvKeep[i] {
				d := means[i]*scale - mean
				v += d * d
				noise += mean / float64(n[i])
			}
		}
		if cnt > 1 {
			v /= cnt - 1
		}
		varLambda := v - noise/cnt
		es.gamma = baseline.Hyper{Family: baseline.GammaPoissonFamily, Shape: math.Inf(1), Mean: max(mean, 1e-9)}
		if varLambda > 0 && mean > 0 {
			es.gamma.Shape, es.gamma.Rate = mean*mean/varLambda, mean/varLambda
		}
	}
	es.fitMixtures(p, scale, lay)
	es.crossValidate(p, scale)
	return es
}

// fitMixtures fits the nonparametric experts on about mixtureInstances
// at most of the instances the cross-validation may visit (cvKeep,
// sampleOf). npmle-poisson too is screened on the log scale only: on skewed
// counts (intermittent demand, where the median mean is near zero) the
// raw-scale mask also drops the best sellers, and a mixture fitted
// without them has no support where they sell, so it capped their
// orders (a product selling 8-18 a day got 7, against the classical
// npmle-poisson's 11); a gross error the log screen lets through gets an
// atom of its own, which the other instances' posteriors barely weigh.
func (es *expertStats) fitMixtures(p *data.Portfolio, scale float64, lay layout) {
	sampled := sampleOf(p, mixtureInstances, cvSalt)
	var ys [][]float64
	var idx []int
	for i, o := range p.Obs {
		if !es.cvKeep[i] || !sampled(i) {
			continue
		}
		y := make([]float64, len(o))
		for j, x := range o {
			y[j] = math.Log(x/scale + es.logOffset)
		}
		ys = append(ys, y)
		idx = append(idx, i)
	}
	sub := p.Subset(idx)
	atoms, bins, its, smoothing := 0, 0, 0, lay.logSmoothing
	if lay.trainingFits && len(ys) <= logMixLarge {
		atoms, bins, its, smoothing = logMixAtoms, logMixBins, logMixIterations, -1
	}
	if m, err := baseline.FitLogMixture(ys, es.logOffset, atoms, bins, its, smoothing); err == nil {
		es.lmix = m
	}
	if es.integer && len(sub.Obs) > 1 {
		fit := baseline.NPMLE{Family: baseline.PoissonMixture}
		if lay.trainingFits {
			fit.Atoms, fit.Iterations = poissonAtoms, poissonIterations
		}
		if g, err := fit.Fit(sub); err == nil {
			es.pois = g
		}
	}
}

// crossValidate sets es.cv: for (about cvInstances at most, sampleOf)
// instances with two or more observations that cvKeep marks, each observation is held out in turn, every expert decides from
// the others (the portfolio's fits kept), and the held-out observation's
// newsvendor cost is averaged; es.cv is each expert's log cost ratio to
// the best, scaled by sqrt(held-out count / cvReference).
func (es *expertStats) crossValidate(p *data.Portfolio, scale float64) {
	var cost [NumExperts]float64
	count := 0
	sampled := sampleOf(p, cvInstances, cvSalt)
	var e [NumExperts]float64
	var buf leaveOut
	for i, o := range p.Obs {
		n := len(o)
		if n < 2 || !es.cvKeep[i] || !sampled(i) {
			continue
		}
		rho := p.Ratios[i]
		z := distuv.UnitNormal.Quantile(rho)
		for j := range o {
			es.expertsLeavingOut(e[:], o, j, scale, rho, z, &buf)
			x := o[j] / scale
			for k, q := range e {
				cost[k] += rho*max(0, x-q) + (1-rho)*max(0, q-x)
			}
			count++
		}
	}
	if count == 0 {
		return
	}
	best := slices.Min(cost[:])
	if !(best > 0) {
		return
	}
	sharpen := math.Sqrt(max(1, float64(count)/cvReference))
	for k, c := range cost {
		es.cv[k] = min(20, math.Log(c/best)*sharpen)
	}
}

// leaveOut is expertsLeavingOut's scratch, reused between calls.
type leaveOut struct{ rest, sorted []float64 }

// expertsLeavingOut is experts for an instance whose observations are o
// (data units) less o[j]: it fills e and returns the correction scale.
func (es *expertStats) expertsLeavingOut(e, o []float64, j int, scale, rho, z float64, buf *leaveOut) float64 {
	buf.rest, buf.sorted = buf.rest[:0], buf.sorted[:0]
	mean, logMean := 0.0, 0.0
	for l, x := range o {
		if l != j {
			buf.rest = append(buf.rest, x)
			buf.sorted = append(buf.sorted, x/scale)
			mean += x / scale
			logMean += math.Log(x/scale + es.logOffset)
		}
	}
	n := float64(len(buf.rest))
	slices.Sort(buf.sorted)
	saa := buf.sorted[baseline.OrderIndex(len(buf.sorted), rho)-1]
	return es.experts(e, buf.rest, logMean/n, scale, mean/n, saa, rho, z)
}

// sampleOf reports which of p's instances the rule selection
// (selectionSample: strengthInstances, selectionSalt), the experts'
// cross-validation (cvInstances, cvSalt) or their nonparametric fits
// (mixtureInstances, cvSalt) visit: all of them up to limit, else about
// limit of them, chosen by saltedIDHash of their IDs, so that the
// choice depends neither on the instances' order nor on their values. A hash of their observations
// (obsHash), the choice before, keeps or drops every instance of one
// pattern together, and counts of two days repeat a few dozen patterns:
// on gamma-Poisson counts of mean 3 and two days, K = 10^5 (scratch),
// the npmle-poisson fit on the patterns it kept, and the head that
// trusted it, ordered at 283% regret, where on the first 1,000 products
// alone it had 20.8% (eb-gamma-poisson 20.7%); at K = 2,000 to 50,000
// it had 23% to 64%. Pretraining portfolios (K <= 500) visit all.
func sampleOf(p *data.Portfolio, limit int, salt uint64) func(i int) bool {
	stride := uint64(max(1, (p.Len()+limit-1)/limit))
	if stride == 1 {
		return func(int) bool { return true }
	}
	return func(i int) bool { return saltedIDHash(p.IDs[i], salt)%stride == 0 }
}

// sampledInstances are the indices of the instances sampleOf keeps.
func sampledInstances(p *data.Portfolio, limit int, salt uint64) []int {
	sampled := sampleOf(p, limit, salt)
	var idx []int
	for i := range p.IDs {
		if sampled(i) {
			idx = append(idx, i)
		}
	}
	return idx
}

// obsHash hashes an instance's observations as a multiset: a sum of
// each value's valueHash, so that it does not depend on their order (the
// sub-portfolios it picks, and so the decisions, would otherwise change
// when an instance's observations are reordered).
func obsHash(o []float64) uint64 {
	var h uint64
	for _, x := range o {
		h += valueHash(x)
	}
	return valueHash(math.Float64frombits(h))
}

// valueHash is the SplitMix64 finaliser of x's bits.
func valueHash(x float64) uint64 {
	z := math.Float64bits(x) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// winsorCap is the largest scaled observation the winsorized expert
// takes: the grand mean plus winsorSDs predictive standard deviations.
func (es *expertStats) winsorCap() float64 {
	return es.normal.Mu0 + winsorSDs*math.Sqrt(es.normal.Tau2+es.normal.S2)
}

// experts fills e (NumExperts) with the expert decisions, in scaled
// units, for an instance with observations o (data units), scaled mean
// mean, mean log logMean and SAA quantile saa, and returns the head's
// correction scale: the normal fit's predictive standard deviation.
func (es *expertStats) experts(e, o []float64, logMean, scale, mean, saa, rho, z float64) (corr float64) {
	n := len(o)
	e[0] = saa
	post, psd := es.normal.predictive(mean, n)
	e[1] = max(0, post+z*psd)
	lm, lsd := es.log.predictive(logMean, n)
	e[2] = max(0, math.Exp(lm+z*lsd)-es.logOffset)
	e[3] = e[1]
	if es.integer {
		e[3] = es.gamma.Predictive(o).Quantile(rho) / scale
	}
	hi := es.winsorCap()
	wm := 0.0
	for _, x := range o {
		wm += min(x/scale, hi)
	}
	wm /= float64(n)
	capped, _ := es.normal.predictive(wm, n)
	e[4] = max(0, capped+z*psd)
	e[5] = e[1]
	if r := len(es.residuals); r > 0 {
		// The posterior mean's own uncertainty widens the residual spread.
		widen := math.Sqrt(max(1, psd*psd/es.normal.S2))
		rq := es.residuals[max(0, min(r-1, int(math.Ceil(rho*float64(r)))-1))]
		e[5] = max(0, post*(1+rq*widen))
	}
	e[6], e[7] = e[2], e[3]
	if es.lmix != nil {
		so := make([]float64, n)
		for j, x := range o {
			so[j] = x / scale
		}
		e[6] = es.lmix.Quantile(so, rho)
	}
	if es.pois != nil {
		sum := 0.0
		for _, x := range o {
			sum += x
		}
		e[7] = es.pois.PoissonQuantile(sum, float64(n), rho) / scale
	}
	for j := range e {
		// One wild instance must not give the network a wild input.
		e[j] = min(e[j], MaxScaled)
	}
	return psd
}

// features fills f (NumExpertFeatures) for instance ki: f[:12] hold
// the legacy features, whose portfolio-level entries 9-11 become the
// robust fit's; then portfolio descriptors, the instance's log-scale
// statistics, shrinkage weights, its outlier score, the experts, and
// their cross-validated costs.
func (es *expertStats) features(f []float32, ki, n int, mean float64, allEqual bool, zeroShare float64, experts []float64) {
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	lsd := 0.0
	if n > 1 {
		lsd = math.Sqrt(es.logSS[ki] / float64(n-1))
	}
	outlier := 0.0
	if es.mad > 0 {
		outlier = min(20, math.Abs(mean-es.med)/es.mad)
	}
	f[9], f[10], f[11] = float32(es.normal.Mu0), float32(math.Sqrt(es.normal.S2)), float32(math.Sqrt(es.normal.Tau2))
	vals := []float64{
		es.logScale, es.intShare, es.zeroShare, zeroShare, flag(allEqual), flag(!es.normal.Within), es.constShare,
		es.logMeans[ki], lsd, es.log.Mu0, math.Sqrt(es.log.S2), math.Sqrt(es.log.Tau2),
		es.normal.shrinkage(n), es.log.shrinkage(n), outlier, flag(es.keep[ki]),
	}
	for j, v := range vals {
		f[12+j] = float32(v)
	}
	for j, v := range experts {
		f[28+j] = float32(v)
	}
	for j, v := range es.cv {
		f[28+NumExperts+j] = float32(v)
	}
}
