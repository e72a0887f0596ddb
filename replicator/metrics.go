package replicator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	EventsRead            *prometheus.CounterVec // source, table, op
	EventsPublished       *prometheus.CounterVec // source: events durable in every sink
	TransactionsConfirmed *prometheus.CounterVec // source
	SourceRestarts        *prometheus.CounterVec // source
}

// NewMetrics registers the pipeline metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		EventsRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_events_read_total", Help: "Change events read from a source, by table and operation.",
		}, []string{"source", "table", "op"}),
		EventsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_events_published_total", Help: "Change events durably acknowledged by every sink.",
		}, []string{"source"}),
		TransactionsConfirmed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_transactions_confirmed_total", Help: "Source transactions whose position was confirmed.",
		}, []string{"source"}),
		SourceRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_source_restarts_total", Help: "Times a source was reconnected after an error.",
		}, []string{"source"}),
	}
	reg.MustRegister(m.EventsRead, m.EventsPublished, m.TransactionsConfirmed, m.SourceRestarts)
	return m
}

// observeRead counts a batch's events by table and operation. It looks the
// counter up once per run of events of the same table and op.
func (m *Metrics) observeRead(source string, b Batch) {
	var (
		c      prometheus.Counter
		lastNS string
		lastT  string
		lastOp byte
		n      int
	)
	for _, ev := range b {
		if c == nil || ev.Source.Table != lastT || byte(ev.Op) != lastOp || ev.Source.Namespace() != lastNS {
			if c != nil {
				c.Add(float64(n))
			}
			lastNS, lastT, lastOp, n = ev.Source.Namespace(), ev.Source.Table, byte(ev.Op), 0
			c = m.EventsRead.WithLabelValues(source, lastNS+"."+lastT, string(rune(lastOp)))
		}
		n++
	}
	if c != nil {
		c.Add(float64(n))
	}
}
