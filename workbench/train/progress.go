package train

import (
	"fmt"
	"io"
	"os"
	"strings"

	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/ui/commandline"
	"golang.org/x/term"
)

// progressOut is where runs report progress; tests replace it.
var progressOut io.Writer = os.Stdout

// progress reports a run's steps on standard output. On a terminal it is
// GoMLX's command-line progress bar, with a line that counts this run's
// own steps (the bar's "Global Step" counts the optimizer's steps over the
// model's life, pretraining included). Elsewhere (a log file, a pipe) it
// prints a plain line every tenth of the run and at its end, without
// terminal codes.
type progress struct {
	label       string
	total       int
	lines       []*barLine
	run         *barLine
	tty         bool
	every, last int
}

func newProgress(loop *gomlxtrain.Loop, label string, total int, lines ...*barLine) *progress {
	p := &progress{label: label, total: total, lines: lines, run: &barLine{name: label + " step"},
		every: max(1, total/10), last: -1}
	if f, ok := progressOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		fns := []commandline.ExtraMetricFn{p.run.get}
		for _, l := range lines {
			fns = append(fns, l.get)
		}
		commandline.AttachProgressBar(loop, fns...)
	}
	return p
}

// step reports that the run's step (0-based) finished.
func (p *progress) step(step int) {
	p.run.set(fmt.Sprintf("%d of %d", step+1, p.total))
	if !p.tty && ((step+1)%p.every == 0 || step+1 == p.total) {
		p.print(step)
	}
}

// done reports the run's last step, if a plain line has not said it.
func (p *progress) done(step int) {
	if !p.tty && step >= 0 && step != p.last {
		p.print(step)
	}
}

func (p *progress) print(step int) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s step %d of %d", p.label, step+1, p.total)
	for _, l := range p.lines {
		name, value := l.get()
		fmt.Fprintf(&b, ", %s %s", name, value)
	}
	fmt.Fprintln(progressOut, b.String())
	p.last = step
}
