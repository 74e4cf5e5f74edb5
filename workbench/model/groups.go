package model

import (
	"cmp"
	"math"
	"slices"

	"github.com/ptft-lab/ptft/workbench/data"
)

// Scale groups. Every pooled rule the model reads, and its correction
// scale, is fitted across the whole portfolio in the data's units. A
// portfolio of two kinds of products, some selling about 5 a day and some
// about 10^6, is no portfolio those fits describe: the normal fit's
// within-instance variance is the large products', so its experts order
// about 1.6e5 for the small ones, and the mixture, weighing them by a
// cross-validated cost that the large products make up, ordered them
// about 3,000 (npmle-poisson: 8). The outlier screens and the apart rule
// (experts.go) catch a few such products among many, not two groups of
// comparable size, whose median lies between them. Decide therefore
// splits a portfolio where its products' sales jump by more than
// scaleGap with no product in between (ScaleGroups), and decides each
// group as a portfolio of its own: pooling has nothing to learn across
// such a gap.

// scaleGap is how far apart two groups' sales must be: every product of
// the upper group sells, at its median, more than scaleGap times the
// most that any product of the lower group sold on one day. At 100, a
// portfolio of normal products of levels 10 and 10^4 (spread and cv 0.2)
// seen one day each stayed whole at K = 1,000, its largest small sale
// and smallest large one 55 times apart, and the small products' regret
// was 44,700%; at 20, 30 or 50 no portfolio of the suite's families (20
// seeds at K = 100 and 1,000) or of 1,000 draws of each built-in prior is
// split.
const scaleGap = 30

// groupObs is the fewest observations that show a product's level: a
// group of products with fewer (one or two days each) must hold at least
// groupShare of the ranked products, at least two, since one or two
// observations cannot tell a product that never sells much from one that
// happened to sell little (a normal product of mean 120 observed once at
// 0.06, its other days unseen), while a balanced portfolio of two levels
// observed once a product is one (half of 100 products selling 2-8 and
// half about 10^6, seen one day each: the small ones were ordered about
// 59,600).
const (
	groupObs   = 3
	groupShare = 0.02
)

// ScaleGroups partitions p's instances by sales level: ranked by the
// median of their observations, a group ends before an instance whose
// median, and every later one's, exceeds scaleGap times the largest
// observation of it and every earlier instance. Comparing the lower
// group's largest observations with the upper group's medians makes the
// split robust: a gross error in the lower group (a large observation)
// can only prevent a split, and in the upper group (one observation of
// several) does not move the median; products that sell little on most
// days, whose medians are near zero, rank lowest but do not open a gap
// unless they never sell much. A group, and the rest of the ranking
// after it, must each hold groupShare of the ranked products (at least
// two) or only products of groupObs observations or more. A product
// whose median is zero (it sold on fewer than half of its days) joins
// the highest group whose lowest median its largest sale comes within
// scaleGap of, or the lowest group. nil when p is one group; each group
// lists its instances in p's order.
func ScaleGroups(p *data.Portfolio) [][]int {
	type ranked struct {
		median, max float64
		n, i        int
	}
	var rs, joining []ranked
	for i, o := range p.Obs {
		r := ranked{median(slices.Clone(o)), slices.Max(o), len(o), i}
		if r.median > 0 {
			rs = append(rs, r)
		} else {
			joining = append(joining, r)
		}
	}
	slices.SortFunc(rs, func(a, b ranked) int { return cmp.Or(cmp.Compare(a.median, b.median), cmp.Compare(a.i, b.i)) })
	minGroup := max(2, int(math.Ceil(groupShare*float64(len(rs)))))
	// established reports whether the ranked products from..to-1 can
	// stand as a group of their own.
	established := func(from, to int) bool {
		return to-from >= minGroup || !slices.ContainsFunc(rs[from:to], func(r ranked) bool { return r.n < groupObs })
	}
	group := make([]int, p.Len())
	var lowest []float64 // each group's lowest median
	most, start := 0.0, 0
	for j, r := range rs {
		if j == 0 || r.median > scaleGap*most && established(start, j) && established(j, len(rs)) {
			lowest, start = append(lowest, r.median), j
		}
		most = max(most, r.max)
		group[r.i] = len(lowest) - 1
	}
	if len(lowest) < 2 {
		return nil
	}
	for _, r := range joining {
		for g := len(lowest) - 1; g >= 0; g-- {
			if g == 0 || scaleGap*r.max >= lowest[g] {
				group[r.i] = g
				break
			}
		}
	}
	groups := make([][]int, len(lowest))
	for i := range p.Obs {
		groups[group[i]] = append(groups[group[i]], i)
	}
	return groups
}

// decideByGroups decides p group by group (ScaleGroups) with decide, or
// returns ok false when p is one group.
func decideByGroups(p *data.Portfolio, decide func(*data.Portfolio) ([]float64, error)) (q []float64, ok bool, err error) {
	groups := ScaleGroups(p)
	if groups == nil {
		return nil, false, nil
	}
	q = make([]float64, p.Len())
	if err := decideParts(p, groups, q, decide); err != nil {
		return nil, true, err
	}
	return q, true, nil
}

// decideParts sets q's decisions of each part's instances to decide's
// decisions on p.Subset(part).
func decideParts(p *data.Portfolio, parts [][]int, q []float64, decide func(*data.Portfolio) ([]float64, error)) error {
	for _, idx := range parts {
		sub, err := decide(p.Subset(idx))
		if err != nil {
			return err
		}
		for j, i := range idx {
			q[i] = sub[j]
		}
	}
	return nil
}

// apartSplit sets some of a portfolio's instances apart (constantSplit,
// loneSplit): it returns the others, which are decided as a portfolio of
// their own, and each set-apart instance's order (at the others' indices
// unused); ok is false where it sets none apart.
type apartSplit func(p *data.Portfolio) (others []int, orders []float64, ok bool)

// decideApart decides p where split sets instances apart: they order what
// split says, and decide decides the others as a portfolio of their own;
// ok is false, and nothing decided, where split sets none apart.
func decideApart(p *data.Portfolio, split apartSplit, decide func(*data.Portfolio) ([]float64, error)) (q []float64, ok bool, err error) {
	others, q, ok := split(p)
	if !ok {
		return nil, false, nil
	}
	if len(others) == 0 {
		return q, true, nil
	}
	return q, true, decideParts(p, [][]int{others}, q, decide)
}

// withoutApart is the portfolio decideApart hands to decide: p without
// the instances split sets apart, p itself where it sets none, nil where
// it sets every instance apart.
func withoutApart(p *data.Portfolio, split apartSplit) *data.Portfolio {
	others, _, ok := split(p)
	switch {
	case !ok:
		return p
	case len(others) == 0:
		return nil
	}
	return p.Subset(others)
}
