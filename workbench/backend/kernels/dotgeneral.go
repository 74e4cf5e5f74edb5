package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Micro-kernel tile and cache blocking. The tile (mr x nr = 6 x 16) keeps
// 12 AVX2 accumulators; kc x nr panels of B and mr x kc panels of A stay in
// L1/L2 for the whole of a macro tile.
const (
	mr = 6
	nr = 16
	kc = 256
	mc = 96  // rows of A packed at a time (16 panels)
	nc = 512 // columns of B packed at a time (32 panels)

	// parallelFlops is the size (2 M N K, summed over the batch) from which
	// a product is split across goroutines. Each output element is still
	// computed by one goroutine in the same order, so results do not
	// depend on the number of goroutines.
	parallelFlops = 1 << 22
)

// handled counts the products ptft's kernel computed (tests check that
// other dtypes went to the stock executor).
var handled atomic.Int64

// execDotGeneral is the executor installed for OpTypeDotGeneral.
func execDotGeneral(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	if !active.Load() || len(inputs) != 2 {
		return stockDotGeneral(b, node, inputs, owned)
	}
	ls, rs := bufShape(inputs[0]), bufShape(inputs[1])
	if ls.DType != dtypes.Float32 || rs.DType != dtypes.Float32 {
		return stockDotGeneral(b, node, inputs, owned)
	}
	p, ok := readDotParams(node)
	if !ok {
		return stockDotGeneral(b, node, inputs, owned)
	}
	lf, ok1 := bufFlat(inputs[0]).([]float32)
	rf, ok2 := bufFlat(inputs[1]).([]float32)
	outShape := nodeShape(node)
	if !ok1 || !ok2 || len(lf) < ls.Size() || len(rf) < rs.Size() ||
		outShape.Size() != p.batch*p.lhsCross*p.rhsCross {
		return stockDotGeneral(b, node, inputs, owned)
	}
	lhs, ok1 := newOperand(lf[:ls.Size()], ls.Dimensions, p.lhsBatch, p.lhsContracting)
	rhs, ok2 := newOperand(rf[:rs.Size()], rs.Dimensions, p.rhsBatch, p.rhsContracting)
	if !ok1 || !ok2 || lhs.batch() != p.batch || rhs.batch() != p.batch || lhs.cross() != p.lhsCross ||
		rhs.cross() != p.rhsCross || lhs.contracting() != p.contracting || rhs.contracting() != p.contracting {
		return stockDotGeneral(b, node, inputs, owned)
	}
	out := getBufferForShape(b, outShape)
	of, ok := bufFlat(out).([]float32)
	if !ok || len(of) < outShape.Size() {
		return stockDotGeneral(b, node, inputs, owned)
	}
	Matmul(lhs, rhs, of[:outShape.Size()])
	handled.Add(1)
	return out, nil
}

// Operand is one side of a product seen as [batch, cross, contracting]:
// element (b, i, k) is at Data[Batch[b] + Cross[i] + Contracting[k]].
type Operand struct {
	Data                      []float32
	Batch, Cross, Contracting []int
}

func (o Operand) batch() int       { return len(o.Batch) }
func (o Operand) cross() int       { return len(o.Cross) }
func (o Operand) contracting() int { return len(o.Contracting) }

// newOperand builds the offset tables of a row-major tensor with the given
// dimensions: batch and contracting axes in the order given, cross axes in
// axis order (simplego's normalisation).
func newOperand(data []float32, dims, batchAxes, contractingAxes []int) (Operand, bool) {
	rank := len(dims)
	strides := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		strides[a] = s
		s *= dims[a]
	}
	kind := make([]int, rank) // 0 cross, 1 contracting, 2 batch
	for _, a := range contractingAxes {
		if a < 0 || a >= rank || kind[a] != 0 {
			return Operand{}, false
		}
		kind[a] = 1
	}
	for _, a := range batchAxes {
		if a < 0 || a >= rank || kind[a] != 0 {
			return Operand{}, false
		}
		kind[a] = 2
	}
	var cross []int
	for a := range rank {
		if kind[a] == 0 {
			cross = append(cross, a)
		}
	}
	return Operand{
		Data:        data,
		Batch:       offsets(dims, strides, batchAxes),
		Cross:       offsets(dims, strides, cross),
		Contracting: offsets(dims, strides, contractingAxes),
	}, true
}

// offsets enumerates the flat offsets of the multi-indices over axes,
// row-major in the order given.
func offsets(dims, strides, axes []int) []int {
	n := 1
	for _, a := range axes {
		n *= dims[a]
	}
	off := make([]int, 1, n)
	for _, a := range axes {
		cur := off
		off = make([]int, 0, len(cur)*dims[a])
		for _, o := range cur {
			for i := range dims[a] {
				off = append(off, o+i*strides[a])
			}
		}
	}
	return off
}

// unitStride reports whether off[i] == off[0] + i for all i.
func unitStride(off []int) bool {
	for i := range off {
		if off[i] != off[0]+i {
			return false
		}
	}
	return true
}

// Matmul writes out[b, i, j] = sum_k lhs(b, i, k) rhs(b, j, k), with out
// row-major [batch, lhs cross, rhs cross].
func Matmul(lhs, rhs Operand, out []float32) {
	batch, m, n, k := lhs.batch(), lhs.cross(), rhs.cross(), lhs.contracting()
	clear(out)
	if m == 0 || n == 0 || k == 0 {
		return
	}
	mChunk := ((mc + mr - 1) / mr) * mr
	rowBlocks := (m + mChunk - 1) / mChunk
	items := batch * rowBlocks
	flops := 2 * batch * m * n * k
	workers := 1
	if flops >= parallelFlops {
		workers = min(runtime.GOMAXPROCS(0), items)
	}
	lhsUnitK, rhsUnitK := unitStride(lhs.Contracting), unitStride(rhs.Contracting)
	lhsUnitM, rhsUnitN := unitStride(lhs.Cross), unitStride(rhs.Cross)
	run := func(ws *workspace, item int) {
		b, rb := item/rowBlocks, item%rowBlocks
		m0 := rb * mChunk
		m1 := min(m, m0+mChunk)
		outB := out[b*m*n:]
		for j0 := 0; j0 < n; j0 += nc {
			j1 := min(n, j0+nc)
			for k0 := 0; k0 < k; k0 += kc {
				k1 := min(k, k0+kc)
				packB(ws.b, rhs, b, j0, j1, k0, k1, rhsUnitK, rhsUnitN)
				packA(ws.a, lhs, b, m0, m1, k0, k1, lhsUnitK, lhsUnitM)
				macro(ws, outB, n, m0, m1, j0, j1, k1-k0)
			}
		}
	}
	if workers <= 1 {
		ws := getWorkspace()
		for item := range items {
			run(ws, item)
		}
		putWorkspace(ws)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := getWorkspace()
			for {
				item := int(next.Add(1) - 1)
				if item >= items {
					break
				}
				run(ws, item)
			}
			putWorkspace(ws)
		}()
	}
	wg.Wait()
}

type workspace struct {
	a    []float32 // mChunk x kc, in mr-row panels
	b    []float32 // kc x nc, in nr-column panels
	tile [mr * nr]float32
}

var workspaces = sync.Pool{New: func() any {
	return &workspace{
		a: make([]float32, ((mc+mr-1)/mr)*mr*kc),
		b: make([]float32, ((nc+nr-1)/nr)*nr*kc),
	}
}}

func getWorkspace() *workspace  { return workspaces.Get().(*workspace) }
func putWorkspace(w *workspace) { workspaces.Put(w) }

// packA lays rows [m0, m1) and contracting [k0, k1) of batch b out as
// panels of mr rows; packB lays columns out as panels of nr columns.
func packA(dst []float32, a Operand, b, m0, m1, k0, k1 int, unitK, unitM bool) {
	pack(dst, a, b, m0, m1, k0, k1, mr, unitK, unitM)
}

func packB(dst []float32, o Operand, b, j0, j1, k0, k1 int, unitK, unitN bool) {
	pack(dst, o, b, j0, j1, k0, k1, nr, unitK, unitN)
}

// pack lays cross indices [c0, c1) and contracting [k0, k1) of batch b out
// as panels of w cross values: panel p holds, for each k, its w values;
// indices past c1 are zero. unitK and unitC say that the contracting or
// cross offsets are contiguous, for the copying fast paths.
func pack(dst []float32, o Operand, b, c0, c1, k0, k1, w int, unitK, unitC bool) {
	depth := k1 - k0
	base := o.Batch[b]
	kOff := o.Contracting[k0:k1]
	for p0 := c0; p0 < c1; p0 += w {
		panel := dst[(p0-c0)*depth : (p0-c0)*depth+w*depth]
		width := min(w, c1-p0)
		if unitC && width == w {
			// Each k's w values are contiguous (weights [K, N]).
			first := base + o.Cross[p0]
			for kk, ko := range kOff {
				copy(panel[kk*w:kk*w+w], o.Data[first+ko:first+ko+w])
			}
			continue
		}
		for c := range w {
			if c >= width {
				for kk := range depth {
					panel[kk*w+c] = 0
				}
				continue
			}
			at := base + o.Cross[p0+c]
			if unitK {
				src := o.Data[at+kOff[0] : at+kOff[0]+depth]
				for kk, v := range src {
					panel[kk*w+c] = v
				}
				continue
			}
			for kk, ko := range kOff {
				panel[kk*w+c] = o.Data[at+ko]
			}
		}
	}
}

// macro multiplies the packed panels and adds each tile into out (row
// stride ldo).
func macro(ws *workspace, out []float32, ldo, m0, m1, j0, j1, depth int) {
	for p0 := m0; p0 < m1; p0 += mr {
		a := ws.a[(p0-m0)*depth:]
		rows := min(mr, m1-p0)
		for q0 := j0; q0 < j1; q0 += nr {
			bp := ws.b[(q0-j0)*depth:]
			microKernel(depth, a, bp, &ws.tile)
			cols := min(nr, j1-q0)
			for r := range rows {
				dst := out[(p0+r)*ldo+q0 : (p0+r)*ldo+q0+cols]
				src := ws.tile[r*nr : r*nr+cols]
				for c, v := range src {
					dst[c] += v
				}
			}
		}
	}
}

// microKernelGo is the portable micro-kernel: tile = A panel x B panel
// over depth values of k.
func microKernelGo(depth int, a, b []float32, tile *[mr * nr]float32) {
	var acc [mr * nr]float32
	a = a[:depth*mr]
	b = b[:depth*nr]
	for kk := range depth {
		av := a[kk*mr : kk*mr+mr : kk*mr+mr]
		bv := b[kk*nr : kk*nr+nr : kk*nr+nr]
		for r := range mr {
			x := av[r]
			row := acc[r*nr : r*nr+nr : r*nr+nr]
			for c := range nr {
				row[c] += x * bv[c]
			}
		}
	}
	*tile = acc
}
