package main

import (
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ptft-lab/ptft/workbench/data"
)

// writeCurveSVG plots a training loss curve (raw and a 50-step moving
// average), as relative regret in percent against the step.
func writeCurveSVG(path, title string, loss []float64) error {
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
	la.Color = plotColor
	p.Add(lr, la)
	p.Legend.Add("per step", lr)
	p.Legend.Add("50-step average", la)
	p.Legend.Top = true
	c := vgsvg.New(6*vg.Inch, 3.5*vg.Inch)
	p.Draw(draw.New(c))
	return data.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

var plotColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
