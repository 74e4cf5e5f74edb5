package model

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// maxShapes is how many input shapes one executable compiles before
// shapeExec starts a new one.
const maxShapes = 64

// shapeExec is a context.Exec that never runs out of shapes. GoMLX's Exec
// compiles one graph per input shape and refuses a shape beyond its
// cache ("maximum cache size of 64 reached"). A process deciding many
// portfolios meets a new shape with every new number of instances or
// observations, and Decide's folds, parts and streamed chunks add their
// own: a sweep of 24 families at K = 100 and 1,000, three portfolios
// each, had every decision from the 15th family on fail (scratch). Where
// maxShapes shapes have been compiled, the next new one starts a fresh
// executable, and the old one's graphs go with the last execution that
// holds it.
type shapeExec struct {
	build func() (*context.Exec, error)

	mu     sync.Mutex
	exec   *context.Exec
	shapes map[string]bool
}

// newShapeExec returns a shapeExec on the executables build returns.
func newShapeExec(build func() (*context.Exec, error)) (*shapeExec, error) {
	e, err := build()
	if err != nil {
		return nil, err
	}
	// shapeExec bounds the shapes itself; GoMLX's own bound would refuse
	// the same shapes.
	e.SetMaxCache(-1)
	return &shapeExec{build: build, exec: e, shapes: map[string]bool{}}, nil
}

// Exec runs the graph for args' shapes, compiling it where it is new.
func (s *shapeExec) Exec(args ...any) ([]*tensors.Tensor, error) {
	key := shapeKey(args)
	s.mu.Lock()
	if !s.shapes[key] {
		if len(s.shapes) >= maxShapes {
			e, err := s.build()
			if err != nil {
				s.mu.Unlock()
				return nil, err
			}
			e.SetMaxCache(-1)
			s.exec, s.shapes = e, map[string]bool{}
		}
		s.shapes[key] = true
	}
	e := s.exec
	s.mu.Unlock()
	return e.Exec(args...)
}

// shapeKey names args' shapes, as GoMLX's cache tells graphs apart.
func shapeKey(args []any) string {
	var b strings.Builder
	for _, a := range args {
		if t, ok := a.(*tensors.Tensor); ok {
			b.WriteString(t.Shape().String())
		} else {
			fmt.Fprintf(&b, "%T", a)
		}
		b.WriteByte(';')
	}
	return b.String()
}
