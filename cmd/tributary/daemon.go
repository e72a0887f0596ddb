package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/replicator"
	"github.com/tributary-cdc/tributary/replicator/mysql"
	"github.com/tributary-cdc/tributary/replicator/postgres"
	"github.com/tributary-cdc/tributary/sinks/file"
	"github.com/tributary-cdc/tributary/sinks/jetstream"
	"github.com/tributary-cdc/tributary/sinks/kafka"
)

// daemon is `tributary run`: every configured backend, wired together.
type daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	started time.Time

	embedded *jetstream.Embedded
	nc       *nats.Conn
	js       *jetstream.Sink
	sinks    []replicator.Sink
	state    replicator.StateStore
	fanout   *replicator.Fanout
	sources  []replicator.Source
	reg      *prometheus.Registry
	metrics  *replicator.Metrics
	admin    *admin.Server
	closers  []func(context.Context) error

	learnerStatus func() any
}

func newDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: log, started: time.Now(), reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			d.close(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.metrics = replicator.NewMetrics(d.reg)
	if err := d.openSinks(ctx); err != nil {
		return nil, err
	}
	if err := d.openSources(); err != nil {
		return nil, err
	}
	d.registerGauges()
	lctx, lcancel := context.WithCancel(ctx)
	waitLearners, learnerStatus, err := startLearners(lctx, cfg, d.nc, d.reg, log)
	if err != nil {
		lcancel()
		return nil, err
	}
	d.learnerStatus = learnerStatus
	d.closers = append(d.closers, func(context.Context) error { lcancel(); return waitLearners() })
	if cfg.Admin.Listen != "" {
		d.admin = &admin.Server{Gatherer: d.reg, Status: d.status, Ready: d.ready, Logger: log}
		if err := d.admin.Start(cfg.Admin.Listen); err != nil {
			return nil, err
		}
		d.closers = append(d.closers, d.admin.Shutdown)
		log.Info("admin listening", "addr", d.admin.Addr())
	}
	return d, nil
}

func (d *daemon) openSinks(ctx context.Context) error {
	for i, sc := range d.cfg.Sinks {
		switch sc.Type {
		case "jetstream":
			if d.js != nil {
				return fmt.Errorf("sinks[%d]: only one jetstream sink is supported", i)
			}
			url := sc.URL
			if url == "" {
				e, err := jetstream.StartEmbedded(ctx, jetstream.EmbeddedOptions{
					StoreDir: filepath.Join(d.cfg.DataDir, "nats"), Listen: sc.Listen,
					SyncInterval: sc.SyncInterval, Logger: d.log,
				})
				if err != nil {
					return fmt.Errorf("sinks[%d]: start embedded NATS (if another NATS server uses %s, set sinks[%d].listen to a free address): %w", i, sc.Listen, i, err)
				}
				d.embedded = e
				url = e.URL()
				d.log.Info("embedded NATS JetStream listening", "url", url, "store", filepath.Join(d.cfg.DataDir, "nats"))
			}
			nc, err := jetstream.Connect(ctx, url, "tributary")
			if err != nil {
				return fmt.Errorf("sinks[%d]: connect to NATS %s: %w", i, url, err)
			}
			d.nc = nc
			s, err := jetstream.New(ctx, nc, jetstream.Options{
				Stream: sc.Stream, SubjectPrefix: sc.SubjectPrefix, DuplicateWindow: sc.DuplicateWindow,
				MaxPending: sc.MaxPending, Logger: d.log,
			})
			if err != nil {
				return fmt.Errorf("sinks[%d]: %w", i, err)
			}
			d.js = s
			d.sinks = append(d.sinks, s)
			st, err := jetstream.NewStateStore(ctx, nc, "tributary_state")
			if err != nil {
				return fmt.Errorf("sinks[%d]: state bucket: %w", i, err)
			}
			d.state = st
		case "file":
			s, err := file.Open(sc.Path)
			if err != nil {
				return fmt.Errorf("sinks[%d]: %w", i, err)
			}
			d.sinks = append(d.sinks, s)
		case "kafka":
			s, err := kafka.New(ctx, kafka.Options{Brokers: sc.Brokers, TopicPrefix: sc.TopicPrefix, Logger: d.log})
			if err != nil {
				return fmt.Errorf("sinks[%d]: %w", i, err)
			}
			d.sinks = append(d.sinks, s)
		default:
			return fmt.Errorf("sinks[%d].type: %q is not supported by this build", i, sc.Type)
		}
	}
	if d.state == nil {
		st, err := replicator.NewDirStore(filepath.Join(d.cfg.DataDir, "state"))
		if err != nil {
			return err
		}
		d.state = st
	}
	d.fanout = replicator.NewFanout(d.sinks...)
	return nil
}

func (d *daemon) openSources() error {
	var purgers []replicator.SubjectPurger
	for _, s := range d.sinks {
		if p, ok := s.(replicator.SubjectPurger); ok {
			purgers = append(purgers, p)
		}
	}
	for i, sc := range d.cfg.Sources {
		switch sc.Type {
		case "postgres":
			src, err := postgres.New(postgres.Config{
				Name: sc.Name, DSN: sc.DSN, Tables: sc.Tables, Slot: sc.Slot, Publication: sc.Publication,
				Snapshot: sc.Snapshot == "initial", State: d.state, Purgers: purgers, Logger: d.log,
			})
			if err != nil {
				return fmt.Errorf("sources[%d]: %w", i, err)
			}
			d.sources = append(d.sources, src)
		case "mysql":
			src, err := mysql.New(mysql.Config{
				Name: sc.Name, DSN: sc.DSN, ServerID: sc.ServerID, Tables: sc.Tables,
				Snapshot: sc.Snapshot == "initial", State: d.state, Logger: d.log,
			})
			if err != nil {
				return fmt.Errorf("sources[%d]: %w", i, err)
			}
			d.sources = append(d.sources, src)
		default:
			return fmt.Errorf("sources[%d].type: %q is not supported by this build", i, sc.Type)
		}
	}
	return nil
}

// run runs every pipeline until ctx ends or one fails, then shuts down.
func (d *daemon) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(d.sources))
	for i, src := range d.sources {
		p := &replicator.Pipeline{Source: src, Out: d.fanout, Logger: d.log, Metrics: d.metrics}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				errs[i] = err
				d.log.Error("pipeline stopped", "source", src.Name(), "err", err)
				cancel()
			}
		}()
	}
	wg.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	d.close(sctx)
	err := errors.Join(errs...)
	if err == nil {
		d.log.Info("stopped cleanly")
	}
	return err
}

// close releases everything in reverse order of opening, within ctx.
func (d *daemon) close(ctx context.Context) {
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](ctx); err != nil {
			d.log.Warn("shutdown", "err", err)
		}
	}
	d.closers = nil
	if d.fanout != nil {
		if err := d.fanout.Close(ctx); err != nil {
			d.log.Warn("close sinks", "err", err)
		}
		d.fanout = nil
	}
	if d.nc != nil {
		_ = d.nc.Drain()
		d.nc = nil
	}
	if d.embedded != nil {
		if err := d.embedded.Shutdown(ctx); err != nil {
			d.log.Warn("embedded NATS shutdown", "err", err)
		}
		d.embedded = nil
	}
}

// registerGauges exports source lag and sink counters as metrics.
func (d *daemon) registerGauges() {
	for _, src := range d.sources {
		if my, ok := src.(*mysql.Source); ok {
			d.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_replication_lag_seconds", Help: "Age of the oldest delivered but unconfirmed commit.", ConstLabels: prometheus.Labels{"source": src.Name()}},
				func() float64 { return my.Status().LagSeconds }))
		}
		pg, ok := src.(*postgres.Source)
		if !ok {
			continue
		}
		labels := prometheus.Labels{"source": src.Name()}
		d.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_replication_lag_bytes", Help: "Bytes of WAL between the confirmed position and the server's WAL end.", ConstLabels: labels},
				func() float64 { return float64(pg.Status().LagBytes) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_replication_lag_seconds", Help: "Age of the oldest delivered but unconfirmed commit.", ConstLabels: labels},
				func() float64 { return pg.Status().LagSeconds }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tributary_confirmed_lsn", Help: "Confirmed flush LSN of the slot.", ConstLabels: labels},
				func() float64 { return float64(pg.Status().ConfirmedLSNValue) }),
		)
	}
	if d.js != nil {
		js := d.js
		d.reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_sink_published_total", Help: "Messages acknowledged by JetStream.", ConstLabels: prometheus.Labels{"sink": "jetstream"}},
				func() float64 { return float64(js.Stats().Published) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_sink_duplicates_total", Help: "Publishes JetStream dropped as duplicates (replays).", ConstLabels: prometheus.Labels{"sink": "jetstream"}},
				func() float64 { return float64(js.Stats().Duplicates) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_sink_publish_errors_total", Help: "Failed publishes.", ConstLabels: prometheus.Labels{"sink": "jetstream"}},
				func() float64 { return float64(js.Stats().Errors) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tributary_sink_retries_total", Help: "Publish retries.", ConstLabels: prometheus.Labels{"sink": "jetstream"}},
				func() float64 { return float64(js.Stats().Retries) }),
		)
	}
}

// statusDoc is the /status document.
type statusDoc struct {
	Version       string       `json:"version"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	NATSURL       string       `json:"nats_url,omitempty"`
	Sources       []any        `json:"sources"`
	Sinks         []sinkStatus `json:"sinks"`
	Learners      any          `json:"learners,omitempty"`
}

type sourceStatus struct {
	Name string `json:"name"`
	Type string `json:"type"`
	postgres.Status
}

type mysqlSourceStatus struct {
	Name string `json:"name"`
	Type string `json:"type"`
	mysql.Status
}

type sinkStatus struct {
	Type    string `json:"type"`
	Durable uint64 `json:"durable_seq"`
	Stats   any    `json:"stats,omitempty"`
}

func (d *daemon) status() any {
	doc := statusDoc{Version: change.Version, UptimeSeconds: time.Since(d.started).Seconds()}
	if d.learnerStatus != nil {
		doc.Learners = d.learnerStatus()
	}
	if d.nc != nil {
		doc.NATSURL = d.nc.ConnectedUrlRedacted()
	}
	for _, src := range d.sources {
		if pg, ok := src.(*postgres.Source); ok {
			doc.Sources = append(doc.Sources, sourceStatus{Name: src.Name(), Type: "postgres", Status: pg.Status()})
		}
		if my, ok := src.(*mysql.Source); ok {
			doc.Sources = append(doc.Sources, mysqlSourceStatus{Name: src.Name(), Type: "mysql", Status: my.Status()})
		}
	}
	for _, s := range d.sinks {
		ss := sinkStatus{Type: s.Name(), Durable: s.Durable()}
		if js, ok := s.(*jetstream.Sink); ok {
			ss.Stats = js.Stats()
		}
		doc.Sinks = append(doc.Sinks, ss)
	}
	return doc
}

func (d *daemon) ready() error {
	for _, src := range d.sources {
		if pg, ok := src.(*postgres.Source); ok && pg.Status().State != "streaming" {
			return fmt.Errorf("source %s is %s", src.Name(), pg.Status().State)
		}
		if my, ok := src.(*mysql.Source); ok && my.Status().State != "streaming" {
			return fmt.Errorf("source %s is %s", src.Name(), my.Status().State)
		}
	}
	return nil
}
