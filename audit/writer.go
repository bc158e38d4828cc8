package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tollgate-dev/tollgate"
)

// ErrClosed is returned by Record once Close has been called.
var ErrClosed = errors.New("audit writer closed")

// maxBackoff caps the wait between retries of a failed batch so a store
// that comes back is used again within seconds.
const maxBackoff = 10 * time.Second

// WriterOptions tunes a Writer; zero values take the defaults.
type WriterOptions struct {
	QueueSize     int           // events waiting to be written, besides those being written (at most as many again); default 8192
	BatchSize     int           // events per store call; default 512
	FlushInterval time.Duration // longest an event waits for its batch; default 200ms
	RetryBackoff  time.Duration // first wait after a failed batch, doubled up to 10s; default 100ms
	Now           func() time.Time
	Logger        *slog.Logger
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Writer batches proxy-decision events into group commits. Record is safe
// for concurrent use.
//
// Record appends to a buffer under a mutex and wakes the writing goroutine
// only for the first event of a batch (to arm the flush timer) and for a
// full batch. An earlier version handed every event over a channel, which
// woke the writer once per event: on a proxy core that cost more than
// storing the event.
type Writer struct {
	store tollgate.AuditStore
	opts  WriterOptions
	m     writerMetrics

	mu      sync.Mutex
	buf     []tollgate.AuditEvent // queued, not yet taken for writing
	spare   []tollgate.AuditEvent // a written batch's backing array, emptied, for the next take
	space   chan struct{}         // closed and replaced whenever events are taken: wakes Records waiting on a full queue
	waiting int                   // Records waiting for space
	closed  bool

	wake    chan struct{} // capacity 1: a batch was started or filled, or a waiting Record gave up
	pending atomic.Int64  // events taken but not yet written

	stopOnce  sync.Once
	stop      chan struct{} // no more Records: drain, flush, exit
	abortOnce sync.Once
	abort     chan struct{} // Close gave up: stop retrying
	done      chan struct{} // run has returned
	ctx       context.Context
	cancel    context.CancelFunc
	lost      atomic.Int64
}

// NewWriter starts a Writer's goroutine; stop it with Close. Metrics are
// registered on reg unless it is nil; a second Writer on the same registry
// shares the counters and takes over the queue gauge.
func NewWriter(store tollgate.AuditStore, opts WriterOptions, reg prometheus.Registerer) *Writer {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		store:  store,
		opts:   opts,
		buf:    make([]tollgate.AuditEvent, 0, min(opts.BatchSize, opts.QueueSize)),
		space:  make(chan struct{}),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	w.m = newWriterMetrics(reg, func() float64 {
		w.mu.Lock()
		n := len(w.buf)
		w.mu.Unlock()
		return float64(n) + float64(w.pending.Load())
	})
	go w.run()
	return w
}

// Record fills a missing ID and Time (from the Writer's clock), checks the
// metadata and queues the event. When the queue is full it blocks until
// there is room, ctx ends or Close gives up; it never drops an event
// silently. After Close it returns ErrClosed.
func (w *Writer) Record(ctx context.Context, e tollgate.AuditEvent) error {
	if err := prepare(&e, w.opts.Now); err != nil {
		return err
	}
	return w.enqueue(ctx, e)
}

// RecordMeta is Record for an event whose metadata is m (e.Metadata is
// ignored): m is canonical already, so nothing is parsed.
func (w *Writer) RecordMeta(ctx context.Context, e tollgate.AuditEvent, m Meta) error {
	prepareIdentity(&e, w.opts.Now)
	e.Metadata = m.raw
	if len(e.Metadata) == 0 {
		e.Metadata = json.RawMessage(emptyMetadata)
	}
	return w.enqueue(ctx, e)
}

func (w *Writer) enqueue(ctx context.Context, e tollgate.AuditEvent) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if len(w.buf) >= w.opts.QueueSize {
		w.m.backpressure.Inc()
		w.waiting++
		for len(w.buf) >= w.opts.QueueSize {
			space := w.space
			w.mu.Unlock()
			var err error
			select {
			case <-space:
			case <-ctx.Done():
				err = fmt.Errorf("queue audit event %s: %w", e.ID, ctx.Err())
			case <-w.abort:
				err = fmt.Errorf("queue audit event %s: %w", e.ID, ErrClosed)
			}
			w.mu.Lock()
			if err != nil {
				w.waiting--
				w.mu.Unlock()
				w.signal() // a closing writer may have been waiting for this Record
				return err
			}
		}
		w.waiting--
	}
	// A Record that was waiting when Close began still gets its event in:
	// the writer drains until no Record waits.
	w.buf = append(w.buf, e)
	n := len(w.buf)
	w.mu.Unlock()
	if n == 1 || n == w.opts.BatchSize {
		w.signal()
	}
	return nil
}

// recycle keeps a written batch's array for the next take, unless a larger
// one is kept already; its events are cleared so nothing they reference
// stays reachable.
func (w *Writer) recycle(written []tollgate.AuditEvent) {
	clear(written)
	w.mu.Lock()
	if cap(written) > cap(w.spare) {
		w.spare = written[:0]
	}
	w.mu.Unlock()
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close stops accepting events, writes everything queued and stops. If ctx
// ends first, the Writer stops retrying, logs how many events it lost and
// Close returns ctx's error.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.stopOnce.Do(func() { close(w.stop) })
	select {
	case <-w.done:
	case <-ctx.Done():
		select {
		case <-w.done: // finished just as ctx ended: not a failure
		default:
			w.abortOnce.Do(func() { close(w.abort) })
			w.cancel()
			return fmt.Errorf("close audit writer: %w", ctx.Err())
		}
	}
	if n := w.lost.Load(); n > 0 {
		return fmt.Errorf("close audit writer: %d events not written", n)
	}
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	defer w.cancel()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var tick <-chan time.Time
	stop := w.stop
	stopping := false
	for {
		expired := false
		select {
		case <-w.wake:
		case <-tick:
			tick, expired = nil, true
		case <-stop:
			stop, stopping = nil, true
		}
		for {
			due := w.take(stopping || expired)
			if due == nil {
				break
			}
			all := due
			for len(due) > 0 {
				k := min(len(due), w.opts.BatchSize)
				if !w.write(due[:k:k], len(due)-k) {
					return
				}
				due = due[k:]
			}
			w.recycle(all)
		}
		w.mu.Lock()
		queued, waiting := len(w.buf), w.waiting
		w.mu.Unlock()
		switch {
		case stopping && queued == 0 && waiting == 0:
			return // closed: no Record can add anything now
		case queued > 0 && tick == nil:
			// The start of a batch waits at most one interval.
			timer.Reset(w.opts.FlushInterval)
			tick = timer.C
		case queued == 0 && tick != nil:
			timer.Stop()
			tick = nil
		}
	}
}

// take removes what is due from the queue: every full batch, or with
// force everything. It returns nil when nothing is due. Taking all at once
// keeps the cost per event constant however long the queue is (a backlog
// is never shifted along). Once written, a batch's array comes back through
// recycle (stores do not keep batches: see tollgate.AuditStore), which
// halved what the writer allocates per event.
func (w *Writer) take(force bool) []tollgate.AuditEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.buf)
	k := n
	if !force {
		k = n / w.opts.BatchSize * w.opts.BatchSize
	}
	if k == 0 {
		return nil
	}
	var due []tollgate.AuditEvent
	if k == n {
		due = w.buf
		w.buf = w.spare
		w.spare = nil
		if w.buf == nil {
			w.buf = make([]tollgate.AuditEvent, 0, min(w.opts.BatchSize, w.opts.QueueSize))
		}
	} else {
		due = slices.Clone(w.buf[:k])
		rest := copy(w.buf, w.buf[k:]) // less than one batch
		clear(w.buf[rest:n])
		w.buf = w.buf[:rest]
	}
	w.pending.Add(int64(k))
	close(w.space)
	w.space = make(chan struct{})
	return due
}

// write stores batch, retrying with backoff until it succeeds or Close
// gives up; it reports whether the batch was written. after is how many
// taken events wait behind it (lost with it if Close gives up).
func (w *Writer) write(batch []tollgate.AuditEvent, after int) bool {
	backoff := w.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := w.store.AppendAudit(w.ctx, batch, sealPrepared)
		w.m.flushSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			w.pending.Add(-int64(len(batch)))
			w.m.events.Add(float64(len(batch)))
			w.m.batchSize.Observe(float64(len(batch)))
			return true
		}
		w.m.writeErrors.Inc()
		w.opts.Logger.Warn("audit batch write failed, will retry",
			"events", len(batch), "attempt", attempt, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-w.abort:
			t.Stop()
			w.mu.Lock()
			lost := int64(len(batch) + after + len(w.buf))
			w.mu.Unlock()
			w.lost.Store(lost)
			w.opts.Logger.Error("audit writer stopped before writing queued events: they are lost",
				"events", lost, "last_err", err)
			return false
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

type writerMetrics struct {
	events       prometheus.Counter
	batchSize    prometheus.Histogram
	flushSeconds prometheus.Histogram
	backpressure prometheus.Counter
	writeErrors  prometheus.Counter
}

func newWriterMetrics(reg prometheus.Registerer, queueLength func() float64) writerMetrics {
	m := writerMetrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_audit_events_total", Help: "Audit events written by the batching writer.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tollgate_audit_batch_size", Help: "Events per audit batch written.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7), // 1 .. 4096
		}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tollgate_audit_flush_seconds", Help: "Time of one audit batch write, failed attempts included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9), // 0.5ms .. ~33s
		}),
		backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_audit_backpressure_total", Help: "Record calls that found the audit queue full and waited.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_audit_write_errors_total", Help: "Failed audit batch writes (each is retried).",
		}),
	}
	if reg == nil {
		return m
	}
	m.events = register(reg, m.events)
	m.batchSize = register(reg, m.batchSize)
	m.flushSeconds = register(reg, m.flushSeconds)
	m.backpressure = register(reg, m.backpressure)
	m.writeErrors = register(reg, m.writeErrors)
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tollgate_audit_queue_length", Help: "Audit events queued or being written.",
	}, queueLength)
	if err := reg.Register(gauge); err != nil {
		// The gauge reads this Writer's queue: replace a previous Writer's.
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic(fmt.Sprintf("register audit metric: %v", err))
		}
		reg.Unregister(are.ExistingCollector)
		reg.MustRegister(gauge)
	}
	return m
}

// register adopts an already registered collector of the same name, so a
// restarted Writer keeps counting where the previous one stopped.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("register audit metric: %v", err))
	}
	return c
}
