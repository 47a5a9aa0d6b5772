package main

import (
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotAll draws the mutex plot of every setup into dir.
func plotAll(dir string, s summaries) error {
	for _, mode := range s.modes {
		if err := plotMutex(filepath.Join(dir, "mutex-"+mode+".png"), s, mode); err != nil {
			return err
		}
	}
	return nil
}

// plotMutex draws the mutex's acquisitions per second by session count,
// one bar per implementation measured at the largest count (the raw floor
// among them: no lock can be faster).
func plotMutex(path string, s summaries, mode string) error {
	p := plot.New()
	p.Title.Text = "Mutex, " + setupLabel(mode)
	p.Y.Label.Text = "acquisitions per second"
	p.X.Label.Text = "contending sessions"
	ns := s.sessions[mutexKind]
	if len(ns) == 0 {
		return nil // not measured in this run
	}
	var labels []string
	for _, n := range ns {
		labels = append(labels, strconv.Itoa(n))
	}
	var impls []string
	for _, im := range s.impls {
		if _, ok := s.get(mode, mutexKind, im, ns[len(ns)-1]); ok {
			impls = append(impls, im)
		}
	}
	w := vg.Points(14)
	for i, im := range impls {
		vals := make(plotter.Values, len(ns))
		for j, n := range ns {
			v, _ := s.get(mode, mutexKind, im, n)
			vals[j] = v.perSecond
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(impls)-1)/2)
		p.Add(bars)
		p.Legend.Add(im, bars)
	}
	p.Legend.Top = true
	p.Y.Min = 0
	p.Y.Max = 0
	for _, im := range impls {
		for _, n := range ns {
			v, _ := s.get(mode, mutexKind, im, n)
			p.Y.Max = max(p.Y.Max, v.perSecond*1.35) // room for the legend
		}
	}
	p.NominalX(labels...)
	return p.Save(18*vg.Centimeter, 10*vg.Centimeter, path)
}
