package experiments

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/ptft-lab/ptft/theory"
	"github.com/ptft-lab/ptft/workbench/data"
)

// Summary is one method at one point of one group, over the seeds.
type Summary struct {
	Group  string
	X      float64
	Method string
	// Mean and SE (standard error) of the experiment's metric.
	Mean, SE float64
	Seeds    int
	// Seconds and PeakHeapMiB are means over the seeds.
	Seconds, PeakHeapMiB float64
}

// x is the horizontal coordinate of a cell in its experiment's figures.
func (e *Experiment) x(c Cell) float64 {
	if e.X == "noise" {
		return c.Noise
	}
	return float64(c.K)
}

// facet is the group a cell is drawn in: its Group, except that an
// experiment along noise draws all noise levels of one K and n together.
func (e *Experiment) facet(c Cell) string {
	if e.X == "noise" {
		return fmt.Sprintf("K=%d, n=%d", c.K, c.N)
	}
	return c.Group()
}

// Summarize averages records over seeds, ordered by group, x and method
// (the experiment's method order).
func Summarize(e *Experiment, recs []Record) []Summary {
	return summarize(e, recs, func(r Record) (float64, bool) { return r.Value, true })
}

// SummarizeExcess averages, over seeds, each method's excess cost over the
// reference method on the same environment, as a fraction of oracle cost:
// (cost - reference cost) / oracle cost. Pairing by environment removes the
// spread between environments that dominates the regret's standard error.
func SummarizeExcess(e *Experiment, recs []Record, reference string) []Summary {
	ref := map[string]Record{}
	envKey := func(c Cell) string { return fmt.Sprintf("%s|%d|%d|%d", c.Group(), c.K, c.Replicate, c.EnvSeed) }
	for _, r := range recs {
		if r.Cell.Method == reference {
			ref[envKey(r.Cell)] = r
		}
	}
	return summarize(e, recs, func(r Record) (float64, bool) {
		b, ok := ref[envKey(r.Cell)]
		if !ok || r.Cell.Method == reference || !(r.OracleCost > 0) {
			return 0, false
		}
		return (r.Cost - b.Cost) / r.OracleCost, true
	})
}

func summarize(e *Experiment, recs []Record, value func(Record) (float64, bool)) []Summary {
	type key struct {
		group, method string
		x             float64
	}
	vals := map[key][]Record{}
	values := map[key][]float64{}
	for _, r := range recs {
		v, ok := value(r)
		if !ok {
			continue
		}
		k := key{e.facet(r.Cell), r.Cell.Method, e.x(r.Cell)}
		vals[k] = append(vals[k], r)
		values[k] = append(values[k], v)
	}
	var out []Summary
	for k, rs := range vals {
		v := values[k]
		s := Summary{Group: k.group, X: k.x, Method: k.method, Seeds: len(rs)}
		for _, r := range rs {
			s.Seconds += r.Seconds / float64(len(rs))
			s.PeakHeapMiB += r.PeakHeapMiB / float64(len(rs))
		}
		s.Mean = stat.Mean(v, nil)
		if len(v) > 1 {
			s.SE = stat.StdDev(v, nil) / math.Sqrt(float64(len(v)))
		}
		out = append(out, s)
	}
	order := e.methodOrder()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return naturalLess(a.Group, b.Group)
		}
		if a.X != b.X {
			return a.X < b.X
		}
		return methodLess(order, a.Method, b.Method)
	})
	return out
}

func (e *Experiment) hasMethod(m string) bool {
	return slices.Contains(e.Full.Methods, m) || slices.Contains(e.Quick.Methods, m)
}

func (e *Experiment) methodOrder() []string {
	var order []string
	for _, m := range append(slices.Clone(e.Full.Methods), e.Quick.Methods...) {
		if !slices.Contains(order, m) {
			order = append(order, m)
		}
	}
	return order
}

func methodLess(order []string, a, b string) bool {
	ia, ib := slices.Index(order, a), slices.Index(order, b)
	if ia < 0 {
		ia = len(order)
	}
	if ib < 0 {
		ib = len(order)
	}
	if ia != ib {
		return ia < ib
	}
	return a < b
}

// naturalLess orders "n=2" before "n=10".
func naturalLess(a, b string) bool {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if pa != pb {
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNumber(s string) (string, float64) {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return s, 0
	}
	j := i
	for j < len(s) && strings.ContainsRune("0123456789.", rune(s[j])) {
		j++
	}
	v, _ := strconv.ParseFloat(s[i:j], 64)
	return s[:i], v
}

// ReportOptions say where a report goes.
type ReportOptions struct {
	// RawDir holds the raw results (default "results/raw").
	RawDir string
	// OutDir receives <name>.md (default "results"); figures go to
	// OutDir/figures.
	OutDir string
	Quick  bool
	// NoPNG skips the PNG copies of the figures.
	NoPNG bool
}

// Report reads an experiment's raw results (every shard), writes its
// Markdown table and its figures, and returns the files written. The same
// raw results give byte-identical Markdown.
func Report(e *Experiment, o ReportOptions) ([]string, error) {
	if o.RawDir == "" {
		o.RawDir = "results/raw"
	}
	if o.OutDir == "" {
		o.OutDir = "results"
	}
	recs, err := ReadRaw(o.RawDir, e.Name, o.Quick)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		quick := ""
		if o.Quick {
			quick = " --quick"
		}
		return nil, fmt.Errorf("no raw results for %s in %s: run `ptft run %s%s` first", e.Name, o.RawDir, e.Name, quick)
	}
	sums := Summarize(e, recs)
	base := rawBase(e.Name, o.Quick)
	figDir := filepath.Join(o.OutDir, "figures")
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	figs := map[string]string{}
	for _, g := range groups(sums) {
		name := base + "-" + slug(g)
		for _, ext := range []string{"svg", "png"} {
			if ext == "png" && o.NoPNG {
				continue
			}
			path := filepath.Join(figDir, name+"."+ext)
			if err := writeFigure(path, e, g, sums, e.overlay(recs, sums, g)); err != nil {
				return written, fmt.Errorf("%s: %w", path, err)
			}
			written = append(written, path)
		}
		figs[g] = "figures/" + name + ".svg"
	}
	var md bytes.Buffer
	if err := writeMarkdown(&md, e, o, recs, sums, figs); err != nil {
		return written, err
	}
	mdPath := filepath.Join(o.OutDir, base+".md")
	if err := data.WriteFileAtomic(mdPath, func(w io.Writer) error { _, err := w.Write(md.Bytes()); return err }); err != nil {
		return written, err
	}
	return append(written, mdPath), nil
}

// bound is a theory curve drawn over a figure (in the metric's units).
type bound struct {
	label string
	pts   []XY
}

// XY is one point of a curve.
type XY struct{ X, Y float64 }

// overlay is the theory curve of one group's figure: on E2 the calibrated
// bound R* + min(E_pre, c sqrt(log(eK)/K)) (formulas 1 and 8 of
// theory/README.md); on E1, in-prior and without finetuning, the
// pretraining bound R*(K) + E_pre with R*(K) the measured Bayes-optimal
// regret and E_pre the pretrained model's mean excess over it. Nil where
// there is none or it cannot be calibrated.
func (e *Experiment) overlay(recs []Record, sums []Summary, grp string) *bound {
	switch e.Theory {
	case TheoryBound:
		b, err := calibrate(sumsOf(sums, grp))
		if err != nil {
			return nil
		}
		var xs []float64
		for _, s := range sumsOf(sums, grp) {
			xs = append(xs, s.X)
		}
		if len(xs) < 2 {
			return nil
		}
		lo, hi := slices.Min(xs), slices.Max(xs)
		out := &bound{label: "bound (calibrated)"}
		for i := range 60 {
			k := lo * math.Pow(hi/lo, float64(i)/59)
			out.pts = append(out.pts, XY{k, b.At(k).Bound})
		}
		return out
	case TheoryPretraining:
		var excess []float64
		for _, s := range sumsOf(SummarizeExcess(e, recs, "bayes"), grp) {
			if s.Method == "transformer" {
				excess = append(excess, s.Mean)
			}
		}
		if len(excess) == 0 {
			return nil
		}
		pre := math.Max(0, stat.Mean(excess, nil))
		out := &bound{label: "R* + E_pre (calibrated)"}
		for _, s := range sumsOf(sums, grp) {
			if s.Method == "bayes" {
				b := theory.Bound{Floor: s.Mean, Pretrain: pre, FinetuneC: math.Inf(1)}
				out.pts = append(out.pts, XY{s.X, b.At(s.X).Bound})
			}
		}
		return out
	}
	return nil
}

func sumsOf(sums []Summary, grp string) []Summary {
	var out []Summary
	for _, s := range sums {
		if s.Group == grp {
			out = append(out, s)
		}
	}
	return out
}

func groups(sums []Summary) []string {
	var gs []string
	for _, s := range sums {
		if !slices.Contains(gs, s.Group) {
			gs = append(gs, s.Group)
		}
	}
	return gs
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		case r == '~':
			b.WriteString("-")
		}
	}
	return b.String()
}

// metricLabel names the metric in tables and on axes.
func (e *Experiment) metricLabel() string {
	switch e.Metric {
	case Benefit:
		return "benefit over SAA, 1 - cost/cost(SAA)"
	case Seconds:
		return "wall time of deciding (s)"
	}
	return "relative regret, (cost - oracle cost) / oracle cost"
}

func (e *Experiment) xLabel() string {
	if e.X == "noise" {
		return "observation noise (sd / product mean)"
	}
	return "K (products)"
}

func formatX(x float64) string {
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func formatSeconds(v float64) string {
	if v < 0.001 {
		return "< 0.001"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func formatMeanSE(m Metric, s Summary) string {
	if m == Seconds {
		return fmt.Sprintf("%s ± %s", formatSeconds(s.Mean), strconv.FormatFloat(s.SE, 'g', 2, 64))
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.SE)
}

func writeMarkdown(w io.Writer, e *Experiment, o ReportOptions, recs []Record, sums []Summary, figs map[string]string) error {
	var versions, backends []string
	var seeds []uint64
	var total float64
	replicates := 0
	for _, r := range recs {
		replicates = max(replicates, r.Cell.Replicate+1)
		if !slices.Contains(versions, r.Version) {
			versions = append(versions, r.Version)
		}
		if !slices.Contains(backends, r.Backend) {
			backends = append(backends, r.Backend)
		}
		if !slices.Contains(seeds, r.BaseSeed) {
			seeds = append(seeds, r.BaseSeed)
		}
		total += r.Seconds
	}
	sort.Strings(versions)
	sort.Strings(backends)
	slices.Sort(seeds)
	g := e.Full
	quick := ""
	if o.Quick {
		g, quick = e.Quick, " --quick"
	}
	// The grid's seeds are the ones the raw records hold: a table rerun
	// with `ptft run --seeds N` has N.
	run := quick
	if replicates > 0 && replicates != g.Seeds {
		g.Seeds = replicates
		run += fmt.Sprintf(" --seeds %d", replicates)
	}
	title := e.Name
	if o.Quick {
		title += " (quick)"
	}
	fmt.Fprintf(w, "# %s: %s\n\n", title, e.Title)
	if o.Quick {
		fmt.Fprint(w, "(quick grid: a smoke-test scale, not the documented results)\n\n")
	}
	fmt.Fprintf(w, "Generated by `ptft report %s%s` from %s/%s*.jsonl (written by `ptft run %s%s`): %d cells; truth `%s`, model `%s`; base seeds %v; ptft %s; backends %s; %.0f s of deciding and finetuning in all.\n\n",
		e.Name, quick, o.RawDir, rawBase(e.Name, o.Quick), e.Name, run, len(recs), e.Truth, e.Model, seeds,
		strings.Join(versions, ", "), strings.Join(backends, ", "), total)
	fmt.Fprintf(w, "Grid: %s. Cells: mean ± standard error over seeds (environments), of the %s", gridLine(g), e.metricLabel())
	if e.Metric != Seconds {
		fmt.Fprint(w, ", in percent")
	}
	fmt.Fprint(w, ".\n")
	var excess []Summary
	if e.hasMethod("bayes") {
		excess = SummarizeExcess(e, recs, "bayes")
	}
	for _, grp := range groups(sums) {
		fmt.Fprintf(w, "\n## %s\n\n", grp)
		if err := wideTable(w, e, sums, grp, func(s Summary) string { return formatMeanSE(e.Metric, s) }); err != nil {
			return err
		}
		if e.Metric == Seconds {
			fmt.Fprint(w, "\nPeak live Go heap while deciding (MiB), mean over seeds:\n\n")
			if err := wideTable(w, e, sums, grp, func(s Summary) string { return fmt.Sprintf("%.1f", s.PeakHeapMiB) }); err != nil {
				return err
			}
		} else {
			fmt.Fprint(w, "\nWall time of deciding, finetuning included (s), mean over seeds:\n\n")
			if err := wideTable(w, e, sums, grp, func(s Summary) string { return formatSeconds(s.Seconds) }); err != nil {
				return err
			}
		}
		if excess != nil {
			fmt.Fprint(w, "\nExcess over Bayes-optimal on the same environments, (cost - Bayes cost) / oracle cost, in percent, mean ± standard error:\n\n")
			if err := wideTable(w, e, excess, grp, func(s Summary) string { return formatMeanSE(Regret, s) }); err != nil {
				return err
			}
		}
		if figs != nil {
			fmt.Fprintf(w, "\n![%s %s](%s)\n", e.Name, grp, figs[grp])
		}
		if e.X == "K" && e.Metric == Regret {
			if err := ratesTable(w, e, sums, grp); err != nil {
				return err
			}
		}
	}
	if e.Theory == TheoryBound {
		writeTheory(w, sums)
	}
	return nil
}

func gridLine(g Grid) string {
	parts := []string{fmt.Sprintf("K in %v", g.Instances), fmt.Sprintf("n in %v", g.Obs)}
	if len(g.Noise) > 0 {
		parts = append(parts, fmt.Sprintf("noise in %v", g.Noise))
	}
	if len(g.PoissonObs) > 0 {
		parts = append(parts, "N fixed and N ~ Poisson(N)")
	}
	parts = append(parts, fmt.Sprintf("%d seeds", g.Seeds))
	if g.FinetuneSteps > 0 {
		parts = append(parts, fmt.Sprintf("finetuning up to %d steps", g.FinetuneSteps))
	}
	if g.PretrainSteps > 0 {
		parts = append(parts, fmt.Sprintf("ablation variants pretrained %d steps each", g.PretrainSteps))
	}
	if g.FinetuneMaxK > 0 {
		parts = append(parts, fmt.Sprintf("finetuning only up to K = %d", g.FinetuneMaxK))
	}
	return strings.Join(parts, ", ")
}

// wideTable prints one row per x and one column per method.
func wideTable(w io.Writer, e *Experiment, sums []Summary, grp string, cell func(Summary) string) error {
	var xs []float64
	var methods []string
	at := map[string]Summary{}
	for _, s := range sums {
		if s.Group != grp {
			continue
		}
		if !slices.Contains(xs, s.X) {
			xs = append(xs, s.X)
		}
		if !slices.Contains(methods, s.Method) {
			methods = append(methods, s.Method)
		}
		at[fmt.Sprint(s.X, "|", s.Method)] = s
	}
	slices.Sort(xs)
	order := e.methodOrder()
	sort.SliceStable(methods, func(i, j int) bool { return methodLess(order, methods[i], methods[j]) })
	xname := "K"
	if e.X == "noise" {
		xname = "noise"
	}
	t := NewTable(append([]string{xname}, methods...)...)
	for _, x := range xs {
		row := []string{formatX(x)}
		for _, m := range methods {
			if s, ok := at[fmt.Sprint(x, "|", m)]; ok {
				row = append(row, cell(s))
			} else {
				row = append(row, "—")
			}
		}
		t.Row(row...)
	}
	return t.Write(w)
}

// ratesTable prints each method's log-log slope of regret against K.
func ratesTable(w io.Writer, e *Experiment, sums []Summary, grp string) error {
	byMethod := map[string][2][]float64{}
	var methods []string
	for _, s := range sums {
		if s.Group != grp {
			continue
		}
		if !slices.Contains(methods, s.Method) {
			methods = append(methods, s.Method)
		}
		v := byMethod[s.Method]
		v[0], v[1] = append(v[0], s.X), append(v[1], s.Mean)
		byMethod[s.Method] = v
	}
	t := NewTable("method", "log-log slope of regret vs K", "95% interval")
	rows := 0
	for _, m := range methods {
		r, err := theory.FitRate(byMethod[m][0], byMethod[m][1], 0.95)
		if err != nil {
			continue
		}
		t.Row(m, fmt.Sprintf("%.3f ± %.3f", r.Slope, r.SE), fmt.Sprintf("[%.3f, %.3f]", r.Lo, r.Hi))
		rows++
	}
	if rows == 0 {
		return nil
	}
	fmt.Fprint(w, "\nEmpirical rates (theory/README.md, formula 6):\n\n")
	return t.Write(w)
}

// Calibrate fits the bound of theory/README.md (formula 8) to an E2-like
// experiment's from-scratch and pretrained-only regrets.
func Calibrate(e *Experiment, recs []Record) (theory.Bound, error) {
	return calibrate(Summarize(e, recs))
}

func calibrate(sums []Summary) (theory.Bound, error) {
	pre := map[float64]float64{}
	for _, s := range sums {
		if s.Method == "transformer" {
			pre[s.X] = s.Mean
		}
	}
	var k, scratch, pretrained []float64
	for _, s := range sums { // in order of x
		if p, ok := pre[s.X]; ok && s.Method == "transformer-scratch" {
			k, scratch, pretrained = append(k, s.X), append(scratch, s.Mean), append(pretrained, p)
		}
	}
	return theory.Calibrate(k, scratch, pretrained)
}

func writeTheory(w io.Writer, sums []Summary) {
	b, err := calibrate(sums)
	if err != nil {
		fmt.Fprintf(w, "\nTheory overlay: not drawn (%v).\n", err)
		return
	}
	fmt.Fprint(w, "\n## Theory overlay\n\n")
	fmt.Fprint(w, "The dashed line in the figure is the calibrated bound of theory/README.md (formulas 1 and 8): ")
	fmt.Fprintf(w, "R* = %.2f%%, pretraining excess E_pre = %.2f%%, finetuning constant c = %.3f, ", 100*b.Floor, 100*b.Pretrain, b.FinetuneC)
	if k := b.Crossover(); math.IsInf(k, 1) {
		fmt.Fprint(w, "no crossover below K = 10^9 ")
	} else {
		fmt.Fprintf(w, "crossover K× = %.0f ", k)
	}
	fmt.Fprint(w, "(above it the finetuning term is the smaller). It is fitted to the scratch and pretrained-only rows; the pretrain+finetune row is what it is compared with.\n")
}
