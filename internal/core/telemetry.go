package core

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the name the library's meter and tracer go by.
const instrumentation = "github.com/zkrecipes/zkrecipes"

// The attributes the library's metrics and spans carry.
const (
	attrRecipe  = attribute.Key("zkrecipes.recipe")  // lock, rwlock, leader, semaphore
	attrPath    = attribute.Key("zkrecipes.path")    // the recipe's path (see Config.DropPath)
	attrOutcome = attribute.Key("zkrecipes.outcome") // of an acquisition: see outcome
	attrCause   = attribute.Key("zkrecipes.cause")   // of a loss: see lossCause
	attrState   = attribute.Key("zkrecipes.session.state")
	attrToken   = attribute.Key("zkrecipes.token") // spans only
)

// telemetry is a Session's instruments, made once from its providers (the
// global ones unless Config says otherwise). With no SDK behind them
// they do nothing, cheaply.
type telemetry struct {
	tracer   trace.Tracer
	wait     metric.Float64Histogram
	hold     metric.Float64Histogram
	acquired metric.Int64Counter
	lost     metric.Int64Counter
	revoked  metric.Int64Counter
	states   metric.Int64Counter
	dropPath bool
}

// durations are the histograms' bucket boundaries, in seconds: waits and
// holds from a millisecond to ten minutes.
var durations = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600}

func newTelemetry(cfg Config) *telemetry {
	mp, tp := cfg.MeterProvider, cfg.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m := mp.Meter(instrumentation)
	t := &telemetry{tracer: tp.Tracer(instrumentation), dropPath: cfg.DropPath}
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(durations...))
		if err != nil {
			errs = append(errs, err)
			return noop.Float64Histogram{}
		}
		return h
	}
	count := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			errs = append(errs, err)
			return noop.Int64Counter{}
		}
		return c
	}
	t.wait = hist("zkrecipes.wait.duration", "How long acquisitions took, from the call to their outcome.")
	t.hold = hist("zkrecipes.hold.duration", "How long holds were trusted, from the grant to their release or loss.")
	t.acquired = count("zkrecipes.acquisitions", "{acquisition}", "Acquisitions, by outcome.")
	t.lost = count("zkrecipes.losses", "{hold}", "Holds lost, by cause.")
	t.revoked = count("zkrecipes.revocation.requests", "{request}", "Revocation requests holds were told of.")
	t.states = count("zkrecipes.session.state_changes", "{change}", "Changes of session state, by the new state.")
	if err := errors.Join(errs...); err != nil {
		cfg.Logger.Warn("zkrecipes: some instruments could not be made; they record nothing", "err", err)
	}
	return t
}

// stateChanged counts a change of the session's state.
func (t *telemetry) stateChanged(st State) {
	t.states.Add(context.Background(), 1, metric.WithAttributes(attrState.String(st.String())))
}

// Measure is what a recipe's acquisitions and holds are measured as: its
// name, its path (unless dropped), and the names of its spans ("lock
// acquire", "leader campaign", "lock release", "leader resign").
// Its attribute sets are made on first use, each when first recorded: a
// recipe made and never used costs nothing more, and one lock per item
// costs a few small sets per item, for the outcomes it meets.
type Measure struct {
	t                        *telemetry
	recipe, path             string
	acquireName, releaseName string // the spans' names

	mu   sync.Mutex
	opts map[attribute.KeyValue]metric.MeasurementOption // by the attribute added to attrs
}

// clientSpan starts every span of the recipes.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// Measured makes a queue's acquisitions (Acquire, or Begin and End around
// a recipe's own) and its holds measured as those of the recipe at path,
// with spans named acquire and release ("lock acquire", "lock release").
func Measured(recipe, path, acquire, release string) QueueOption {
	return func(q *Queue) {
		q.measure = &Measure{t: q.s.tel, recipe: recipe, path: path, acquireName: acquire, releaseName: release}
	}
}

// attrs returns m's own attributes: the recipe, and its path unless
// dropped.
func (m *Measure) attrs() []attribute.KeyValue {
	kv := []attribute.KeyValue{attrRecipe.String(m.recipe)}
	if !m.t.dropPath {
		kv = append(kv, attrPath.String(m.path))
	}
	return kv
}

// with returns the measurement option of m's attributes and kv (none if
// kv is the zero KeyValue), made once. It is called only where an
// instrument is enabled: with no SDK, nothing of this is made.
func (m *Measure) with(kv attribute.KeyValue) metric.MeasurementOption {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.opts[kv]; ok {
		return o
	}
	attrs := m.attrs()
	if kv.Key != "" {
		attrs = append(attrs, kv)
	}
	o := metric.WithAttributeSet(attribute.NewSet(attrs...))
	if m.opts == nil {
		m.opts = map[attribute.KeyValue]metric.MeasurementOption{}
	}
	m.opts[kv] = o
	return o
}

// attrEnd is hold.duration's attribute: released, or lost.
const attrEnd = attribute.Key("zkrecipes.end")

// outcome names what an acquisition that returned err came to.
func outcome(err error) string {
	switch {
	case err == nil:
		return "granted"
	case errors.Is(err, ErrWouldBlock):
		return "would_block"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case errors.Is(err, ErrLost):
		return "lost"
	}
	return "error"
}

// lossCause names why a hold was lost.
func lossCause(err error) string {
	switch {
	case errors.Is(err, ErrMaxHoldExceeded):
		return "max_hold"
	case errors.Is(err, ErrSuspended):
		return "suspended"
	case errors.Is(err, ErrSessionLost):
		return "expired"
	case errors.Is(err, ErrSessionClosed):
		return "closed"
	case errors.Is(err, ErrNodeDeleted):
		return "node_deleted"
	case errors.Is(err, ErrNodeMismatch):
		return "mismatch"
	}
	return "other"
}

// Op is one acquisition being measured.
type Op struct {
	m     *Measure
	start time.Time
	span  trace.Span
}

// Begin starts measuring an acquisition of q; End ends it. A queue that
// is not Measured gives an Op that measures nothing.
func (q *Queue) Begin(ctx context.Context) (context.Context, Op) {
	if q.measure == nil {
		return ctx, Op{}
	}
	m := q.measure
	ctx, span := m.t.tracer.Start(ctx, m.acquireName, clientSpan...)
	if span.IsRecording() {
		span.SetAttributes(m.attrs()...)
	}
	return ctx, Op{m: m, start: time.Now(), span: span}
}

// End records the acquisition's outcome (err) and wait, and measures the
// holds it granted until they end.
func (o Op) End(err error, granted ...*Hold) {
	if o.m == nil {
		return
	}
	m, ctx := o.m, context.Background()
	result := outcome(err)
	if m.t.wait.Enabled(ctx) || m.t.acquired.Enabled(ctx) {
		opt := m.with(attrOutcome.String(result))
		m.t.wait.Record(ctx, time.Since(o.start).Seconds(), opt)
		m.t.acquired.Add(ctx, 1, opt)
	}
	if o.span.IsRecording() {
		o.span.SetAttributes(attrOutcome.String(result))
		if len(granted) > 0 {
			o.span.SetAttributes(attrToken.Int64(granted[0].token))
		}
		if err != nil && result != "would_block" {
			o.span.RecordError(err)
			o.span.SetStatus(codes.Error, result)
		}
	}
	o.span.End()
	for _, h := range granted {
		h.measured()
	}
}

// measured measures a granted hold until it ends (see recordEnd): how
// long it was held, and, if it was lost, why.
func (h *Hold) measured() {
	if h.measure == nil {
		return
	}
	h.mu.Lock()
	h.grantedAt = time.Now()
	h.mu.Unlock()
	if h.ctx.Err() != nil { // ended before it was measured
		h.recordEnd()
	}
}

// recordEnd records the end of a measured hold, once: whichever of its
// cancel and its measured comes second takes the grant's time.
func (h *Hold) recordEnd() {
	if h.ctx.Err() == nil {
		return
	}
	h.mu.Lock()
	m, granted := h.measure, h.grantedAt
	h.grantedAt = time.Time{}
	h.mu.Unlock()
	if m == nil || granted.IsZero() {
		return
	}
	ctx, cause := context.Background(), context.Cause(h.ctx)
	held := time.Since(granted).Seconds()
	released := errors.Is(cause, ErrNotHeld)
	if m.t.hold.Enabled(ctx) {
		end := "lost"
		if released {
			end = "released"
		}
		m.t.hold.Record(ctx, held, m.with(attrEnd.String(end)))
	}
	if !released && m.t.lost.Enabled(ctx) {
		m.t.lost.Add(ctx, 1, m.with(attrCause.String(lossCause(cause))))
	}
}

// releaseSpan starts the span of a measured hold's release.
func (h *Hold) releaseSpan(ctx context.Context) trace.Span {
	if h.measure == nil {
		return nil
	}
	m := h.measure
	_, span := m.t.tracer.Start(ctx, m.releaseName, clientSpan...)
	if span.IsRecording() {
		span.SetAttributes(append(m.attrs(), attrToken.Int64(h.token))...)
	}
	return span
}

// endSpan ends a release's span with its error.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, "release")
	}
	span.End()
}
