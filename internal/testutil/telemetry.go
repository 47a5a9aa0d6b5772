package testutil

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// Telemetry collects a Session's metrics and spans in memory, through the
// OpenTelemetry SDK, for tests to count.
type Telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
}

// NewTelemetry returns a collector and the Session options that send to it.
func NewTelemetry() (*Telemetry, []recipes.Option) {
	t := &Telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	return t, []recipes.Option{
		recipes.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(t.reader))),
		recipes.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(t.spans))),
	}
}

// Point is one data point: its attributes, and its value (a counter's sum,
// a histogram's sample count).
type Point struct {
	Attrs attribute.Set
	Value int64
}

// Points returns the data points of the metric called name, collected now.
func (t *Telemetry) Points(tb testing.TB, name string) []Point {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := t.reader.Collect(context.Background(), &rm); err != nil {
		tb.Fatalf("collect: %v", err)
	}
	var out []Point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, Point{dp.Attributes, dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, Point{dp.Attributes, int64(dp.Count)})
				}
			default:
				tb.Fatalf("%s: %T", name, m.Data)
			}
		}
	}
	return out
}

// By returns the metric's values summed by the value of attribute key.
func (t *Telemetry) By(tb testing.TB, name, key string) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	for _, p := range t.Points(tb, name) {
		v, _ := p.Attrs.Value(attribute.Key(key))
		out[v.AsString()] += p.Value
	}
	return out
}

// Spans returns the ended spans called name, each as its attributes.
func (t *Telemetry) Spans(name string) []map[attribute.Key]attribute.Value {
	var out []map[attribute.Key]attribute.Value
	for _, sp := range t.spans.Ended() {
		if sp.Name() != name {
			continue
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range sp.Attributes() {
			attrs[kv.Key] = kv.Value
		}
		out = append(out, attrs)
	}
	return out
}
