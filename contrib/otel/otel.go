// Package sessionotel reports sessionkit's store calls as OpenTelemetry
// spans under the request's span, and its events as OpenTelemetry metrics
// (go.opentelemetry.io/otel).
//
//	import sessionotel "github.com/sessionkit/sessionkit/contrib/otel"
//
//	obs, err := sessionotel.New(sessionotel.Options{}) // global providers by default
//	if err != nil { ... }
//	sessions.Observer = obs.Observe
//	handler := otelhttp.NewHandler(sessions.Handler(mux), "app") // the request's span
//
// Spans: one per store call ("sessionkit.load", "sessionkit.save",
// "sessionkit.touch", "sessionkit.delete"), of kind internal, a child of
// the span in the request's context, timed from the call's start to its
// end, with attributes sessionkit.store, sessionkit.operation and
// sessionkit.outcome; a failed call records its error and sets the span's
// status. Because sessionkit reports a call when it ends, a store's own
// instrumentation (a Redis or SQL driver's spans) appears beside these
// spans, under the request's span, not inside them. Other events become
// span events on the request's span, named "sessionkit." and the
// sessionkit.EventKind ("sessionkit.create", "sessionkit.regenerate",
// "sessionkit.destroy", "sessionkit.login", "sessionkit.login-failed",
// "sessionkit.conflict", "sessionkit.bad-token", "sessionkit.error", ...),
// with the attribute sessionkit.store; an error event does not carry the
// error, which sessionkit logs. The create, regenerate and destroy events
// and counters come once the commit that stored or deleted the session has
// succeeded, after its store call spans (see sessionkit.EventKind), not
// when a handler calls Regenerate or Destroy: a failed commit reports only
// an error.
//
// Metrics (the histogram's attributes are sessionkit.store,
// sessionkit.operation and sessionkit.outcome, the counters'
// sessionkit.store alone: bounded, never session or user IDs):
//
//	sessionkit.store.operation.duration  histogram, s     store calls (its count is the number of calls)
//	sessionkit.save.conflicts            counter          lost compare-and-swaps (retried up to Manager.MaxRetries times)
//	sessionkit.save.retries_exhausted    counter          saves given up (ErrTooManyConflicts)
//	sessionkit.token.rejected            counter          refused client tokens
//	sessionkit.session.created           counter          new sessions stored (a login without a session too)
//	sessionkit.session.regenerated       counter          stored sessions moved to a new ID (Regenerate: a login over a session)
//	sessionkit.session.destroyed         counter          stored sessions ended and deleted (Destroy, a logout)
//	sessionkit.session.imported          counter          taken over from another system (Importer)
//	sessionkit.session.touches           counter          idle-expiry extensions (successful touches)
//	sessionkit.logins                    counter          package auth
//	sessionkit.login.failures            counter          refused credentials (auth.FormLogin)
//	sessionkit.errors                    counter          errors also logged
package sessionotel

import (
	"fmt"

	"github.com/sessionkit/sessionkit"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/sessionkit/sessionkit/contrib/otel"

// Attribute keys.
const (
	StoreKey     = attribute.Key("sessionkit.store")
	OperationKey = attribute.Key("sessionkit.operation")
	OutcomeKey   = attribute.Key("sessionkit.outcome")
)

// Options configures the Observer.
type Options struct {
	// TracerProvider makes the tracer (default otel.GetTracerProvider()).
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter (default otel.GetMeterProvider()).
	MeterProvider metric.MeterProvider
	// Buckets are the latency histogram's bucket boundaries in seconds
	// (default, also for an empty slice: 100µs to 2.5s).
	Buckets []float64
}

// DefaultBuckets are the default latency buckets, in seconds.
var DefaultBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Observer turns sessionkit events into spans and metrics. It is safe for
// concurrent use; one Observer can serve several Managers.
type Observer struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	counters map[sessionkit.EventKind]metric.Int64Counter
}

// New returns an Observer; set its Observe method as the Manager's
// Observer.
func New(opts Options) (*Observer, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	meter := mp.Meter(ScopeName)
	o := &Observer{tracer: tp.Tracer(ScopeName), counters: map[sessionkit.EventKind]metric.Int64Counter{}}
	var err error
	o.duration, err = meter.Float64Histogram("sessionkit.store.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of store calls made by sessionkit."),
		metric.WithExplicitBucketBoundaries(buckets...))
	if err != nil {
		return nil, fmt.Errorf("sessionotel: %w", err)
	}
	for _, c := range []struct {
		kind              sessionkit.EventKind
		name, unit, descr string
	}{
		{sessionkit.EventConflict, "sessionkit.save.conflicts", "{conflict}", "Saves that lost their compare-and-swap (retried up to MaxRetries times)."},
		{sessionkit.EventTooManyConflicts, "sessionkit.save.retries_exhausted", "{save}", "Saves given up after too many conflicts."},
		{sessionkit.EventBadToken, "sessionkit.token.rejected", "{token}", "Client tokens refused."},
		{sessionkit.EventCreate, "sessionkit.session.created", "{session}", "New sessions stored."},
		{sessionkit.EventRegenerate, "sessionkit.session.regenerated", "{session}", "Stored sessions moved to a new ID by Regenerate (a login), once committed."},
		{sessionkit.EventDestroy, "sessionkit.session.destroyed", "{session}", "Stored sessions ended and deleted (Destroy, a logout), once committed."},
		{sessionkit.EventImport, "sessionkit.session.imported", "{session}", "Sessions taken over from another system (Importer)."},
		{sessionkit.EventTouch, "sessionkit.session.touches", "{touch}", "Idle-expiry extensions (successful store touches)."},
		{sessionkit.EventLogin, "sessionkit.logins", "{login}", "Successful logins."},
		{sessionkit.EventLoginFailed, "sessionkit.login.failures", "{login}", "Logins refused for wrong credentials."},
		{sessionkit.EventError, "sessionkit.errors", "{error}", "Errors sessionkit reported (and logged)."},
	} {
		counter, err := meter.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.descr))
		if err != nil {
			return nil, fmt.Errorf("sessionotel: %w", err)
		}
		o.counters[c.kind] = counter
	}
	return o, nil
}

// Observe records e. Use it as (or call it from) Manager.Observer.
func (o *Observer) Observe(e sessionkit.Event) {
	ctx := e.Ctx
	store := StoreKey.String(e.Store)
	if e.Kind.StoreOp() {
		op, outcome := OperationKey.String(e.Kind.String()), OutcomeKey.String(e.Outcome.String())
		attrs := metric.WithAttributes(store, op, outcome)
		o.duration.Record(ctx, e.Duration.Seconds(), attrs)
		_, span := o.tracer.Start(ctx, "sessionkit."+e.Kind.String(),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(e.Start),
			trace.WithAttributes(store, op, outcome))
		if e.Err != nil {
			span.RecordError(e.Err)
			span.SetStatus(codes.Error, e.Outcome.String())
		}
		span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
	} else {
		trace.SpanFromContext(ctx).AddEvent("sessionkit."+e.Kind.String(), trace.WithAttributes(store))
	}
	if e.Kind == sessionkit.EventTouch && e.Outcome != sessionkit.OutcomeOK {
		return // extended nothing; counted in the duration histogram
	}
	if c, ok := o.counters[e.Kind]; ok {
		c.Add(ctx, 1, metric.WithAttributes(store))
	}
}
