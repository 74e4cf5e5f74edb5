package experiments

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ptft-lab/ptft/workbench/data"
)

type xyErrors struct {
	plotter.XYs
	plotter.YErrors
}

// writeFigure writes renderFigure's output to path, SVG or PNG by the
// path's extension.
func writeFigure(path string, e *Experiment, grp string, sums []Summary, overlay *bound) error {
	return data.WriteFileAtomic(path, func(w io.Writer) error {
		return renderFigure(w, strings.TrimPrefix(filepath.Ext(path), "."), e, grp, sums, overlay)
	})
}

// renderFigure draws one group: the metric against x, one line per method
// with standard-error bars, log-log for regret and time against K, and the
// theory curve when one is given. format is "svg" or "png".
func renderFigure(out io.Writer, format string, e *Experiment, grp string, sums []Summary, overlay *bound) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, %s", e.Name, grp)
	p.X.Label.Text = e.xLabel()
	p.Y.Label.Text = map[Metric]string{Regret: "relative regret (%)", Benefit: "benefit over SAA (%)", Seconds: "seconds"}[e.Metric]
	logX := e.X == "K"
	logY := e.Metric != Benefit
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	var methods []string
	series := map[string]*xyErrors{}
	for _, s := range sums {
		if s.Group != grp || (logY && !(s.Mean > 0)) {
			continue
		}
		d, ok := series[s.Method]
		if !ok {
			d = &xyErrors{}
			series[s.Method] = d
			methods = append(methods, s.Method)
		}
		y, se := s.Mean, s.SE
		if e.Metric != Seconds {
			y, se = 100*y, 100*se
		}
		d.XYs = append(d.XYs, plotter.XY{X: s.X, Y: y})
		lo := se
		if logY {
			lo = math.Min(se, 0.9*y) // keep the bar's foot above zero on a log axis
		}
		d.YErrors = append(d.YErrors, struct{ Low, High float64 }{lo, se})
	}
	for i, m := range methods {
		d := series[m]
		line, points, err := plotter.NewLinePoints(d.XYs)
		if err != nil {
			return err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		// The palette has 7 colours: further methods reuse them dashed.
		line.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
		bars, err := plotter.NewYErrorBars(d)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		p.Add(line, points, bars)
		p.Legend.Add(m, line, points)
	}
	if overlay != nil && len(overlay.pts) > 1 {
		var xy plotter.XYs
		for _, pt := range overlay.pts {
			if !logY || pt.Y > 0 {
				xy = append(xy, plotter.XY{X: pt.X, Y: 100 * pt.Y})
			}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		l.Color = color.Black
		p.Add(l)
		p.Legend.Add(overlay.label, l)
	}
	if logY && p.Y.Max > 0 {
		p.Y.Max *= 2 // room for the legend above the lines
	}
	p.Legend.Top = e.Metric != Benefit
	p.Legend.Left = e.Metric == Benefit
	return drawTo(out, p, format, 7*vg.Inch, 4.5*vg.Inch)
}

// drawTo renders p as SVG or PNG (96 dpi) onto out.
func drawTo(out io.Writer, p *plot.Plot, format string, w, h vg.Length) error {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))}
	case "svg":
		c = vgsvg.New(w, h)
	default:
		return fmt.Errorf("figure format %q: want svg or png", format)
	}
	p.Draw(draw.New(c))
	_, err := c.WriteTo(out)
	return err
}

// logTicks labels 1, 2 and 5 times each power of ten (gonum's LogTicks
// labels powers of ten only, which leaves a regret axis from 5% to 40%
// without a label).
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 3, 4, 5, 6, 7, 8, 9} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 4, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// BarChart renders one bar per label ("svg" or "png"), e.g. each method's
// regret on one portfolio in the quickstart notebook.
func BarChart(title, ylabel string, labels []string, values []float64, format string) ([]byte, error) {
	if len(labels) != len(values) || len(values) == 0 {
		return nil, fmt.Errorf("bar chart: %d labels for %d values", len(labels), len(values))
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	bars, err := plotter.NewBarChart(plotter.Values(values), vg.Points(28))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	var b bytes.Buffer
	if err := drawTo(&b, p, format, 7*vg.Inch, 4*vg.Inch); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteCurveSVG plots a training loss curve (raw and a 50-step moving
// average), as relative regret in percent against the step.
func WriteCurveSVG(path, title string, loss []float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "relative regret (%)"
	raw := make(plotter.XYs, len(loss))
	avg := make(plotter.XYs, len(loss))
	sum := 0.0
	for i, v := range loss {
		raw[i].X, raw[i].Y = float64(i+1), 100*(v-1)
		sum += v
		if i >= 50 {
			sum -= loss[i-50]
		}
		avg[i].X, avg[i].Y = float64(i+1), 100*(sum/float64(min(i+1, 50))-1)
	}
	lr, err := plotter.NewLine(raw)
	if err != nil {
		return err
	}
	lr.Color = plotter.DefaultLineStyle.Color
	lr.Width = vg.Points(0.3)
	la, err := plotter.NewLine(avg)
	if err != nil {
		return err
	}
	la.Width = vg.Points(1.5)
	la.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	p.Add(lr, la)
	p.Legend.Add("per step", lr)
	p.Legend.Add("50-step average", la)
	p.Legend.Top = true
	return data.WriteFileAtomic(path, func(w io.Writer) error {
		return drawTo(w, p, "svg", 6*vg.Inch, 3.5*vg.Inch)
	})
}
