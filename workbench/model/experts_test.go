package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/ptft-lab/ptft/workbench/baseline"
	"github.com/ptft-lab/ptft/workbench/data"
	"github.com/ptft-lab/ptft/workbench/dist"
	"github.com/ptft-lab/ptft/workbench/prior"
)

func normalPortfolio(t *testing.T, k, n int, seed uint64) *data.Portfolio {
	t.Helper()
	return spreadNormalPortfolio(t, 0.2, k, n, seed)
}

// spreadNormalPortfolio is normalPortfolio with the prior's spread
// (tau/mu0) given.
func spreadNormalPortfolio(t *testing.T, spread float64, k, n int, seed uint64) *data.Portfolio {
	t.Helper()
	p := &prior.Prior{Name: "t", Version: "1", Kind: prior.NormalNormal, Level: prior.Fixed(200), Spread: prior.Fixed(spread),
		CV: prior.Fixed(0.2), Noise: prior.Fixed(0), Instances: prior.IntRange{Min: k, Max: k},
		Obs: prior.IntRange{Min: n, Max: n}, Ratio: prior.Fixed(0.9)}
	env, err := p.Generate(seed, prior.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env.Portfolio
}

func expertsOf(p *data.Portfolio) *Batch {
	return newBatchOf([]*data.Portfolio{p}, 0, 0, layout{experts: true})
}

// On clean normal data the normal expert is plain moment empirical
// Bayes: nothing is left out as an outlier.
func TestNormalExpertIsEmpiricalBayesOnCleanData(t *testing.T) {
	p := normalPortfolio(t, 300, 5, 3)
	want, err := baseline.Decide(baseline.EmpiricalBayes{Family: baseline.NormalFamily}, p)
	if err != nil {
		t.Fatal(err)
	}
	bt := expertsOf(p)
	for i := range p.Obs {
		got := float64(bt.Head[i*bt.H+5]) * bt.Scale[i]
		if math.Abs(got-want[i]) > 1e-4*want[i] {
			t.Fatalf("instance %d: expert %v, eb %v", i, got, want[i])
		}
	}
}

// One observation in 2,500 set to 50 times the mean moves no other
// product's expert decisions by more than 1% (nor the experts'
// cross-validated costs by more than 0.01), while plain EB's pooled
// variance explodes.
func TestOneGrossErrorMovesNoOtherProduct(t *testing.T) {
	p := normalPortfolio(t, 500, 5, 4)
	clean := expertsOf(p)
	dirty := *p
	dirty.Obs = make([][]float64, p.Len())
	for i, o := range p.Obs {
		dirty.Obs[i] = append([]float64(nil), o...)
	}
	hit := rand.New(rand.NewPCG(4, 4)).IntN(p.Len())
	dirty.Obs[hit][2] = 50 * 200
	bad := expertsOf(&dirty)
	for i := range p.Obs {
		if i == hit {
			continue
		}
		for j := 4; j < clean.H; j++ {
			a, b := clean.Head[i*clean.H+j], bad.Head[i*bad.H+j]
			tol := 0.01 * math.Abs(float64(a))
			if j >= 4+NumExperts {
				// Cross-validated log costs: 0.01 moves a mixture weight by 35%
				// at most (cvGateScale).
				tol = 0.01
			}
			if math.Abs(float64(a-b)) > tol {
				t.Fatalf("instance %d, head input %d: %v clean, %v with one gross error", i, j, a, b)
			}
		}
	}
	// The instance's own rules set its error aside (grossError): each
	// orders it at its other observations' level, not at the error's
	// (every rule but the winsorized one took it at face value and
	// ordered 10^3-10^4).
	for e := range NumExperts {
		if own := float64(bad.Head[hit*bad.H+4+e]) * bad.Scale[hit]; own > 2*slices.Max(p.Obs[hit]) {
			t.Errorf("expert %s of the contaminated instance %v orders %v", ExpertNames[e], dirty.Obs[hit], own)
		}
	}
	eb, err := baseline.Decide(baseline.EmpiricalBayes{Family: baseline.NormalFamily}, &dirty)
	if err != nil {
		t.Fatal(err)
	}
	// The same error does move plain EB (the test's portfolio is one
	// where robustness matters).
	other := (hit + 1) % p.Len()
	if cleanEB := float64(clean.Head[other*clean.H+5]) * clean.Scale[other]; math.Abs(eb[other]-cleanEB) < 0.05*cleanEB {
		t.Fatalf("plain EB moved only from %v to %v", cleanEB, eb[other])
	}
}

// An instance's largest observation is a gross error only beyond the
// portfolio's cap and 20 times every other: a heavy-tailed product's
// largest day is not one.
func TestGrossError(t *testing.T) {
	for _, c := range []struct {
		o    []float64
		want int
	}{
		{[]float64{200, 190, 210, 2e5, 180}, 3},
		{[]float64{2e5, 190}, 0},
		{[]float64{100, 50, 200, 2500, 80}, -1}, // 12.5 times the next
		{[]float64{2e5}, -1},
		{[]float64{2, 1, 450, 3}, -1}, // below the cap
		{[]float64{0, 0, 0, 600}, 3},
	} {
		if g := grossError(c.o, 500); g != c.want {
			t.Errorf("grossError(%v, 500) = %d, want %d", c.o, g, c.want)
		}
	}
}

// The experts are equivariant to scaling the data (decisions in scaled
// units do not change), npmle-log included; on non-integer data the
// count experts (gamma-Poisson, npmle-poisson) are the normal one; and
// equal observations in non-integer data flag a certain constant.
func TestExpertsScaleFree(t *testing.T) {
	p := normalPortfolio(t, 100, 4, 5)
	q := *p
	q.Obs = make([][]float64, p.Len())
	for i, o := range p.Obs {
		for _, x := range o {
			q.Obs[i] = append(q.Obs[i], 3.5*x)
		}
	}
	a, b := expertsOf(p), expertsOf(&q)
	for i := range p.Obs {
		for _, j := range []int{4, 5, 6, 8, 9, 10, 11} {
			x, y := a.Head[i*a.H+j], b.Head[i*b.H+j]
			if math.Abs(float64(x-y)) > 1e-4*math.Abs(float64(x)) {
				t.Fatalf("instance %d, expert %d: %v, scaled %v", i, j-4, x, y)
			}
		}
		if math.Abs(b.Scale[i]/a.Scale[i]-3.5) > 1e-12 {
			t.Fatalf("scale %v vs %v", b.Scale[i], a.Scale[i])
		}
	}
}

// On clean data the nonparametric experts are the baseline methods:
// npmle-log (its default grids, in portfolios of any size) on a lognormal
// portfolio, npmle-poisson (the experts' grid) on a gamma-Poisson one;
// only pretraining batches of small portfolios fit npmle-log on small
// grids. expertDecisions are the head's expert inputs.
func TestNonparametricExpertsAreTheBaselines(t *testing.T) {
	for _, c := range []struct {
		prior  string
		k      int
		column int
		policy baseline.Policy
	}{
		{"lognormal-portfolio", 400, 4 + 6, baseline.LogDeconvolution{}},
		{"lognormal-portfolio", 100, 4 + 6, baseline.LogDeconvolution{}},
		{"gamma-poisson", 400, 4 + 7, baseline.NPMLE{Family: baseline.PoissonMixture}},
		{"gamma-poisson", 100, 4 + 7, baseline.NPMLE{Family: baseline.PoissonMixture}},
	} {
		pr, err := prior.Lookup(c.prior)
		if err != nil {
			t.Fatal(err)
		}
		env, err := pr.Generate(6, prior.Options{Instances: c.k, Obs: prior.IntRange{Min: 5, Max: 5}, Ratio: 0.85})
		if err != nil {
			t.Fatal(err)
		}
		p := env.Portfolio
		want, err := baseline.Decide(c.policy, p)
		if err != nil {
			t.Fatal(err)
		}
		bt := expertsOf(p)
		m := &Model{Config: Config{Experts: true}}
		direct := m.expertDecisions(p, nil)[c.column-4]
		training := m.NewTrainingBatch([]*data.Portfolio{p}, 0, 0)
		moved := false
		for i := range p.Obs {
			got := float64(bt.Head[i*bt.H+c.column]) * bt.Scale[i]
			if math.Abs(got-want[i]) > 1e-4*max(1, want[i]) {
				t.Fatalf("%s K=%d, instance %d: expert %v, %s %v", c.prior, c.k, i, got, c.policy.Name(), want[i])
			}
			if math.Abs(direct[i]-got) > 1e-5*max(1, got) {
				t.Fatalf("%s K=%d, instance %d: expertDecisions %v, batch %v", c.prior, c.k, i, direct[i], got)
			}
			moved = moved || training.Head[i*bt.H+c.column] != bt.Head[i*bt.H+c.column]
		}
		// npmle-log's small training grids move its decisions; npmle-poisson's
		// decisions are integers, which the training grid may well repeat.
		if small := c.k <= logMixLarge; c.column == 4+6 && moved != small {
			t.Errorf("%s K=%d: training batch differs from the decision batch: %v, want %v", c.prior, c.k, moved, small)
		}
	}
}

// On skewed counts (most products never or seldom sell, a few sell
// well) the raw-scale outlier mask drops the best sellers; npmle-poisson
// must still be fitted on them, or its support stops below their sales.
func TestPoissonExpertKeepsTheBestSellersOfSkewedCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	p := &data.Portfolio{Source: "skewed"}
	for i := range 100 {
		lambda := 0.0
		switch {
		case i%10 == 0:
			lambda = 20
		case i%2 == 1:
			lambda = 1.5
		}
		o := make([]float64, 6)
		for j := range o {
			o[j] = dist.Poisson{Lambda: lambda}.Rand(rng)
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.8)
	}
	st := newPortfolioStats(p, layout{experts: true})
	dropped := 0
	for _, k := range st.ex.keep {
		if !k {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("no instance left out on the raw scale: the test does not exercise the skew")
	}
	want, err := baseline.Decide(baseline.NPMLE{Family: baseline.PoissonMixture}, p)
	if err != nil {
		t.Fatal(err)
	}
	got := (&Model{Config: Config{Experts: true}}).expertDecisions(p, nil)[7]
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-6*max(1, want[i]) {
			t.Fatalf("instance %d %v: expert %v, npmle-poisson %v (%d instances left out on the raw scale)", i, p.Obs[i], got[i], want[i], dropped)
		}
	}
}

// expertDecisions are the head's expert inputs in every layout: from the
// portfolio's statistics, or, without cross-instance attention, from each
// instance's own.
func TestExpertDecisionsAreTheHeadInputs(t *testing.T) {
	p := normalPortfolio(t, 60, 4, 8)
	for _, isolated := range []bool{false, true} {
		m := &Model{Config: Config{Experts: true, NoCrossAttention: isolated}}
		bt := m.NewBatch([]*data.Portfolio{p}, 0, 0)
		ex := m.expertDecisions(p, nil)
		for e := range ex {
			for i := range p.Obs {
				got := float64(bt.Head[i*bt.H+4+e]) * bt.Scale[i]
				if math.Abs(ex[e][i]-got) > 1e-5*max(1, got) {
					t.Fatalf("isolated %v, expert %s, instance %d: %v, head input %v", isolated, ExpertNames[e], i, ex[e][i], got)
				}
			}
		}
	}
}

// An instance that no pooled fit describes (far from the others on the
// log scale, and on the raw scale far from them or of a much narrower
// spread) is decided by every expert as SAA decides it: the fits, made
// without it, put it among products it is not like (npmle-log ordered 10
// for a product selling 10^7 a day). Instances that one screen alone
// leaves out stay pooled: a gross error (far on the raw scale only) and
// a small product of a normal portfolio with the others' spread (far on
// the log scale only).
func TestAnInstanceApartFromEveryFitIsDecidedByItsOwnObservations(t *testing.T) {
	// Counts of a few a day, and one product selling about 10^7, far from
	// the others on the raw and on the log scale.
	rng := rand.New(rand.NewPCG(2, 2))
	p := &data.Portfolio{Source: "far seller"}
	for i := range 100 {
		o := make([]float64, 5)
		for j := range o {
			o[j] = dist.Poisson{Lambda: 1 + float64(i%10)}.Rand(rng)
		}
		p.IDs, p.Obs, p.Ratios = append(p.IDs, strconv.Itoa(i)), append(p.Obs, o), append(p.Ratios, 0.9)
	}
	big := p.Len() - 1
	p.Obs[big] = []float64{1.0169137e7, 1.0083588e7, 1.0018442e7, 9.927609e6, 1.0124004e7}
	st := newPortfolioStats(p, layout{experts: true})
	for i := range p.Obs {
		if got := st.ex.apart(i); got != (i == big) {
			t.Fatalf("instance %d %v: apart %v", i, p.Obs[i], got)
		}
	}
	saa, err := baseline.Decide(baseline.SAA{}, p)
	if err != nil {
		t.Fatal(err)
	}
	ex := (&Model{Config: Config{Experts: true}}).expertDecisions(p, nil)
	for e := range ex {
		if math.Abs(ex[e][big]-saa[big]) > 1e-9*saa[big] {
			t.Errorf("expert %s: %v for %v, SAA %v", ExpertNames[e], ex[e][big], p.Obs[big], saa[big])
		}
	}

	gross := normalPortfolio(t, 200, 5, 5)
	gross.Obs[0][0] = 50 * 200
	small := normalPortfolio(t, 200, 5, 6)
	small.Obs[0] = []float64{1, 45, 3, 60, 2}
	narrow := normalPortfolio(t, 200, 5, 6)
	narrow.Obs[0] = []float64{0.5, 0.4, 0.6, 0.5, 0.5}
	for _, c := range []struct {
		name             string
		p                *data.Portfolio
		raw, log, narrow bool // the instance's side of each screen
	}{
		{"gross error", gross, false, true, false},
		{"small product", small, true, false, false},
		{"small narrow product", narrow, true, false, true},
	} {
		st := newPortfolioStats(c.p, layout{experts: true})
		if ex := st.ex; ex.keep[0] != c.raw || ex.logKeep[0] != c.log || ex.narrow[0] != c.narrow {
			t.Fatalf("%s: kept on the raw scale %v, on the log scale %v, narrow %v: the test needs %v, %v, %v",
				c.name, ex.keep[0], ex.logKeep[0], ex.narrow[0], c.raw, c.log, c.narrow)
		}
		if got, want := st.ex.apart(0), c.narrow; got != want {
			t.Errorf("%s %v: apart %v", c.name, c.p.Obs[0], got)
		}
		for i := 1; i < c.p.Len(); i++ {
			if st.ex.apart(i) {
				t.Errorf("%s: instance %d %v apart", c.name, i, c.p.Obs[i])
			}
		}
	}
}

// On low, skewed counts (mean 0.7, gamma shape 0.44: most products sell
// nothing on most days, a few sell several a day) the experts' gamma
// fit keeps the best sellers, which the raw-scale outlier screen would
// drop: its shape is the classical eb-gamma-poisson's, not a much
// narrower prior that shrinks the best sellers to the crowd.
func TestExpertGammaKeepsSkewedSellers(t *testing.T) {
	p := gammaPoissonCounts(1000, 5, 0.44, 0.7, 21)
	st := newPortfolioStats(p, layout{experts: true})
	h, err := baseline.EmpiricalBayes{Family: baseline.GammaPoissonFamily}.Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("experts' shape %.3f, mean %.3f; eb-gamma-poisson's %.3f, %.3f", st.ex.gamma.Shape, st.ex.gamma.Shape/st.ex.gamma.Rate, h.Shape, h.Shape/h.Rate)
	if math.Abs(st.ex.gamma.Shape/h.Shape-1) > 0.2 {
		t.Errorf("experts' gamma shape %.3f, eb-gamma-poisson's %.3f", st.ex.gamma.Shape, h.Shape)
	}
}
