package kernels

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// executor is simplego's nodeExecutor type, spelled with its exported
// parts so that the linked table below has the same layout.
type executor = func(*simplego.Backend, *simplego.Node, []*simplego.Buffer, []bool) (*simplego.Buffer, error)

//go:linkname nodeExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var nodeExecutors [backends.OpTypeLast]executor

//go:linkname getBufferForShape github.com/gomlx/gomlx/backends/simplego.(*Backend).getBufferForShape
func getBufferForShape(b *simplego.Backend, shape shapes.Shape) *simplego.Buffer

const simplegoPkgPath = "github.com/gomlx/gomlx/backends/simplego"

// replacement is one executor ptft installs: the op, the stock executor
// it expects in the table, and the constructor of its own.
type replacement struct {
	op    backends.OpType
	stock string
	make  func(stock executor) executor
}

var replacements = []replacement{
	{backends.OpTypeDotGeneral, "execDotGeneral", func(executor) executor { return execDotGeneral }},
	{backends.OpTypeAdd, "execAdd", func(s executor) executor { return binaryExecutor(backends.OpTypeAdd, s) }},
	{backends.OpTypeSub, "execSub", func(s executor) executor { return binaryExecutor(backends.OpTypeSub, s) }},
	{backends.OpTypeMul, "execMul", func(s executor) executor { return binaryExecutor(backends.OpTypeMul, s) }},
	{backends.OpTypeDiv, "execDiv", func(s executor) executor { return binaryExecutor(backends.OpTypeDiv, s) }},
	{backends.OpTypeBroadcastInDim, "execBroadcastInDim", func(executor) executor { return execBroadcastInDim }},
	{backends.OpTypeReduceSum, "execReduce", func(s executor) executor { return reduceExecutor(backends.OpTypeReduceSum, s) }},
	{backends.OpTypeReduceMax, "execReduce", func(s executor) executor { return reduceExecutor(backends.OpTypeReduceMax, s) }},
	{backends.OpTypeExp, "execExp", func(s executor) executor { return unaryExecutor(backends.OpTypeExp, s) }},
	{backends.OpTypeErf, "execErf", func(s executor) executor { return unaryExecutor(backends.OpTypeErf, s) }},
}

// Offsets of the unexported fields read, found and checked by verifyInternals.
var (
	stockExecutors  = map[backends.OpType]executor{}
	stockDotGeneral executor

	nodeShapeOff, nodeDataOff, nodeInputsOff uintptr
	bufShapeOff, bufFlatOff                  uintptr

	dgType                                                     reflect.Type // the *dotGeneralNodeData type
	dgLhsContracting, dgLhsBatch, dgRhsContracting, dgRhsBatch uintptr
	dgBatchSize, dgLhsCross, dgRhsCross, dgContracting         uintptr
)

func nodeShape(n *simplego.Node) shapes.Shape {
	return *(*shapes.Shape)(unsafe.Add(unsafe.Pointer(n), nodeShapeOff))
}
func nodeData(n *simplego.Node) any { return *(*any)(unsafe.Add(unsafe.Pointer(n), nodeDataOff)) }
func nodeInputs(n *simplego.Node) []*simplego.Node {
	return *(*[]*simplego.Node)(unsafe.Add(unsafe.Pointer(n), nodeInputsOff))
}
func bufShape(b *simplego.Buffer) shapes.Shape {
	return *(*shapes.Shape)(unsafe.Add(unsafe.Pointer(b), bufShapeOff))
}
func bufFlat(b *simplego.Buffer) any { return *(*any)(unsafe.Add(unsafe.Pointer(b), bufFlatOff)) }

// dotParams are the DotGeneral node's axes, in simplego's normalised
// order: batch axes pair up in order, contracting axes pair up in order,
// and the output is [batch, lhs cross, rhs cross] flattened.
type dotParams struct {
	lhsContracting, lhsBatch, rhsContracting, rhsBatch []int
	batch, lhsCross, rhsCross, contracting             int
}

// eface is the layout of a Go interface value.
type eface struct {
	typ, data unsafe.Pointer
}

func readDotParams(n *simplego.Node) (dotParams, bool) {
	d := nodeData(n)
	if d == nil || reflect.TypeOf(d) != dgType {
		return dotParams{}, false
	}
	p := (*eface)(unsafe.Pointer(&d)).data
	ints := func(off uintptr) []int { return *(*[]int)(unsafe.Add(p, off)) }
	one := func(off uintptr) int { return *(*int)(unsafe.Add(p, off)) }
	return dotParams{
		lhsContracting: ints(dgLhsContracting), lhsBatch: ints(dgLhsBatch),
		rhsContracting: ints(dgRhsContracting), rhsBatch: ints(dgRhsBatch),
		batch: one(dgBatchSize), lhsCross: one(dgLhsCross), rhsCross: one(dgRhsCross), contracting: one(dgContracting),
	}, true
}

// field returns the offset of struct t's field name after checking its type.
func field(t reflect.Type, name string, want reflect.Type) (uintptr, error) {
	f, ok := t.FieldByName(name)
	if !ok {
		return 0, fmt.Errorf("%s has no field %q", t, name)
	}
	if f.Type != want {
		return 0, fmt.Errorf("%s.%s is %s, want %s", t, name, f.Type, want)
	}
	return f.Offset, nil
}

var (
	shapeType = reflect.TypeFor[shapes.Shape]()
	anyType   = reflect.TypeFor[any]()
	intsType  = reflect.TypeFor[[]int]()
	intType   = reflect.TypeFor[int]()
)

// verifyInternals checks every GoMLX internal the kernels use and records
// the offsets; any difference is an error and nothing is changed.
func verifyInternals() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("probing simplego: %v", r)
		}
	}()
	if len(nodeExecutors) != int(backends.OpTypeLast) {
		return fmt.Errorf("executor table has %d entries, want %d", len(nodeExecutors), backends.OpTypeLast)
	}
	stocks := map[backends.OpType]executor{}
	for _, r := range replacements {
		stock := nodeExecutors[r.op]
		if stock == nil {
			return fmt.Errorf("no %s executor registered", r.op)
		}
		want := simplegoPkgPath + "." + r.stock
		if name := runtime.FuncForPC(reflect.ValueOf(stock).Pointer()).Name(); name != want {
			return fmt.Errorf("%s executor is %s, want %s", r.op, name, want)
		}
		stocks[r.op] = stock
	}
	nodeT, bufT := reflect.TypeFor[simplego.Node](), reflect.TypeFor[simplego.Buffer]()
	nodesT := reflect.TypeFor[[]*simplego.Node]()
	if nodeShapeOff, err = field(nodeT, "shape", shapeType); err != nil {
		return err
	}
	if nodeDataOff, err = field(nodeT, "data", anyType); err != nil {
		return err
	}
	if nodeInputsOff, err = field(nodeT, "inputs", nodesT); err != nil {
		return err
	}
	if bufShapeOff, err = field(bufT, "shape", shapeType); err != nil {
		return err
	}
	if bufFlatOff, err = field(bufT, "flat", anyType); err != nil {
		return err
	}

	// A probe graph: [2,3,5] x [5,2,4] contracting 2 with 0, batch 0 with 1.
	bk, err := simplego.New("")
	if err != nil {
		return fmt.Errorf("starting a probe backend: %v", err)
	}
	defer bk.Finalize()
	sb, ok := bk.(*simplego.Backend)
	if !ok {
		return fmt.Errorf("simplego.New returned %T", bk)
	}
	builder := sb.Builder("ptft-kernels-probe")
	x, err := builder.Parameter("x", shapes.Make(dtypes.Float32, 2, 3, 5), nil)
	if err != nil {
		return err
	}
	y, err := builder.Parameter("y", shapes.Make(dtypes.Float32, 5, 2, 4), nil)
	if err != nil {
		return err
	}
	out, err := builder.DotGeneral(x, []int{2}, []int{0}, y, []int{0}, []int{1})
	if err != nil {
		return err
	}
	node, ok := out.(*simplego.Node)
	if !ok {
		return fmt.Errorf("DotGeneral returned %T", out)
	}
	if in := nodeInputs(node); nodeData(node) == nil && len(in) == 1 {
		node = in[0] // the Reshape that recovers the axes
	}
	data := nodeData(node)
	if data == nil {
		return fmt.Errorf("probe DotGeneral node carries no data")
	}
	dt := reflect.TypeOf(data)
	if dt.Kind() != reflect.Pointer || dt.Elem().Kind() != reflect.Struct || dt.Elem().Name() != "dotGeneralNodeData" || dt.Elem().PkgPath() != simplegoPkgPath {
		return fmt.Errorf("DotGeneral node data is %s, want *simplego.dotGeneralNodeData", dt)
	}
	dgType = dt
	st := dt.Elem()
	for _, f := range []struct {
		name string
		typ  reflect.Type
		off  *uintptr
	}{
		{"lhsContractingAxes", intsType, &dgLhsContracting}, {"lhsBatchAxes", intsType, &dgLhsBatch},
		{"rhsContractingAxes", intsType, &dgRhsContracting}, {"rhsBatchAxes", intsType, &dgRhsBatch},
		{"batchSize", intType, &dgBatchSize}, {"lhsCrossSize", intType, &dgLhsCross},
		{"rhsCrossSize", intType, &dgRhsCross}, {"contractingSize", intType, &dgContracting},
	} {
		if *f.off, err = field(st, f.name, f.typ); err != nil {
			return err
		}
	}
	p, ok := readDotParams(node)
	want := dotParams{[]int{2}, []int{0}, []int{0}, []int{1}, 2, 3, 4, 5}
	if !ok || !slices.Equal(p.lhsContracting, want.lhsContracting) || !slices.Equal(p.lhsBatch, want.lhsBatch) ||
		!slices.Equal(p.rhsContracting, want.rhsContracting) || !slices.Equal(p.rhsBatch, want.rhsBatch) ||
		p.batch != want.batch || p.lhsCross != want.lhsCross || p.rhsCross != want.rhsCross || p.contracting != want.contracting {
		return fmt.Errorf("probe DotGeneral node data read as %+v, want %+v", p, want)
	}
	if s := nodeShape(node); !s.Equal(shapes.Make(dtypes.Float32, 2, 3, 4)) {
		return fmt.Errorf("probe DotGeneral node shape read as %s, want (Float32)[2 3 4]", s)
	}
	// BroadcastInDim and reductions keep their axes as []int.
	bc, err := builder.BroadcastInDim(x, shapes.Make(dtypes.Float32, 2, 7, 3, 5), []int{0, 2, 3})
	if err != nil {
		return err
	}
	if axes, ok := nodeData(bc.(*simplego.Node)).([]int); !ok || !slices.Equal(axes, []int{0, 2, 3}) {
		return fmt.Errorf("BroadcastInDim node data read as %#v, want []int{0, 2, 3}", nodeData(bc.(*simplego.Node)))
	}
	for _, op := range []backends.OpType{backends.OpTypeReduceSum, backends.OpTypeReduceMax} {
		var red backends.Op
		if op == backends.OpTypeReduceSum {
			red, err = builder.ReduceSum(x, 1)
		} else {
			red, err = builder.ReduceMax(x, 1)
		}
		if err != nil {
			return err
		}
		if axes, ok := nodeData(red.(*simplego.Node)).([]int); !ok || !slices.Equal(axes, []int{1}) {
			return fmt.Errorf("%s node data read as %#v, want []int{1}", op, nodeData(red.(*simplego.Node)))
		}
	}
	buf := getBufferForShape(sb, shapes.Make(dtypes.Float32, 3, 4))
	if buf == nil {
		return fmt.Errorf("getBufferForShape returned nil")
	}
	if s := bufShape(buf); !s.Equal(shapes.Make(dtypes.Float32, 3, 4)) {
		return fmt.Errorf("pool buffer shape read as %s", s)
	}
	if f, ok := bufFlat(buf).([]float32); !ok || len(f) != 12 {
		return fmt.Errorf("pool buffer data read as %T of %d", bufFlat(buf), len(f))
	}
	for op, e := range stocks {
		stockExecutors[op] = e
	}
	stockDotGeneral = stocks[backends.OpTypeDotGeneral]
	return nil
}
