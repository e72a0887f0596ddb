package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/learner"
	"github.com/tributary-cdc/tributary/sinks/jetstream"
)

func init() { commands = append(commands, newModelCmd) }

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Inspect the learners' model versions: list, show, diff, predict",
		Long: `Model reads the learners' saved versions from the model store: the JetStream
object store bucket ` + jetstream.DefaultModelBucket + ` when the config has a jetstream sink (the
running daemon's server, or, when it is not running, the embedded server's
store in data_dir/nats opened for the command), else files under
data_dir/models. --learner may be left out when one learner is configured.`,
	}
	cmd.PersistentFlags().String("learner", "", "learner name (optional when one is configured)")
	cmd.PersistentFlags().Bool("json", false, "print JSON")
	cmd.AddCommand(newModelListCmd(), newModelShowCmd(), newModelDiffCmd(), newModelPredictCmd())
	return cmd
}

// modelEnv is what a model command works with.
type modelEnv struct {
	cfg     *config.Config
	learner *config.LearnerConfig
	store   learner.Store
	asJSON  bool
	out     io.Writer
	close   func()
}

func openModelEnv(cmd *cobra.Command) (*modelEnv, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	name, _ := cmd.Flags().GetString("learner")
	lc, err := cfg.Learner(name)
	if err != nil {
		return nil, err
	}
	asJSON, _ := cmd.Flags().GetBool("json")
	ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
	defer cancel()
	blobs, closeFn, err := openModelBlobs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &modelEnv{cfg: cfg, learner: lc, store: learner.Store{Blobs: blobs}, asJSON: asJSON, out: cmd.OutOrStdout(), close: closeFn}, nil
}

// openModelBlobs opens the model store of cfg: with a jetstream sink, the
// object store over the configured NATS URL, or, for an embedded server,
// over the running daemon's server when it answers, else over an embedded
// server started on data_dir/nats on a random port for the command.
// Without a jetstream sink, the files under data_dir/models.
func openModelBlobs(ctx context.Context, cfg *config.Config) (learner.Blobs, func(), error) {
	sc, ok := cfg.Sink(config.SinkJetStream)
	if !ok {
		return learner.NewDirBlobs(filepath.Join(cfg.DataDir, "models")), func() {}, nil
	}
	var nc *nats.Conn
	var emb *jetstream.Embedded
	var err error
	if sc.URL != "" {
		if nc, err = jetstream.Connect(ctx, sc.URL, "tributary-model"); err != nil {
			return nil, nil, err
		}
	} else {
		if nc, err = connectRunning(ctx, sc.Listen); err != nil {
			emb, err = jetstream.StartEmbedded(ctx, jetstream.EmbeddedOptions{StoreDir: filepath.Join(cfg.DataDir, "nats"), Listen: "127.0.0.1:0"})
			if err != nil {
				return nil, nil, fmt.Errorf("model store: the daemon's NATS at %s does not answer, and opening %s failed: %w", sc.Listen, filepath.Join(cfg.DataDir, "nats"), err)
			}
			if nc, err = jetstream.Connect(ctx, emb.URL(), "tributary-model"); err != nil {
				_ = emb.Shutdown(context.Background())
				return nil, nil, err
			}
		}
	}
	closeFn := func() {
		nc.Close()
		if emb != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = emb.Shutdown(sctx)
		}
	}
	blobs, err := jetstream.NewObjectBlobs(ctx, nc, jetstream.DefaultModelBucket)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return blobs, closeFn, nil
}

// connectRunning connects to a running daemon's embedded server at listen,
// failing fast when nothing listens there.
func connectRunning(ctx context.Context, listen string) (*nats.Conn, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, err
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), time.Second)
	if err != nil {
		return nil, err
	}
	c.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return jetstream.Connect(cctx, "nats://"+net.JoinHostPort(host, port), "tributary-model")
}

// withModelEnv opens the model store the config names, runs fn with a
// bounded context, and closes the store.
func withModelEnv(cmd *cobra.Command, fn func(ctx context.Context, e *modelEnv) error) error {
	e, err := openModelEnv(cmd)
	if err != nil {
		return err
	}
	defer e.close()
	ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
	defer cancel()
	return fn(ctx, e)
}

// load returns version v of the learner, or the newest for v == 0.
func (e *modelEnv) load(ctx context.Context, v uint64) (*learner.Version, error) {
	if v == 0 {
		ver, _, err := e.store.Latest(ctx, e.learner.Name)
		return ver, err
	}
	return e.store.Load(ctx, e.learner.Name, v)
}

func parseVersion(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("version %q: want a version number (1, 2, ...)", s)
	}
	return v, nil
}

// versionSummary is one line of `model list`.
type versionSummary struct {
	Version       uint64    `json:"version"`
	Parent        uint64    `json:"parent"`
	CreatedAt     time.Time `json:"created_at"`
	Algorithm     string    `json:"algorithm"`
	StreamSeq     uint64    `json:"stream_seq"`
	Position      string    `json:"position,omitempty"`
	Inserts       int64     `json:"inserts"`
	Updates       int64     `json:"updates"`
	Deletes       int64     `json:"deletes"`
	NotUnlearned  int64     `json:"not_unlearned"`
	RMSE          float64   `json:"rmse"`
	RollingRMSE   float64   `json:"rolling_rmse"`
	R2            float64   `json:"r2"`
	FeatureCount  int       `json:"features"`
	Checksum      string    `json:"checksum"`
	WarmStartFrom string    `json:"warm_start,omitempty"`
	Error         string    `json:"error,omitempty"`
}

func summarize(v *learner.Version) versionSummary {
	c := v.Counts
	s := versionSummary{Version: v.Version, Parent: v.Parent, CreatedAt: v.CreatedAt, Algorithm: v.Algorithm, StreamSeq: v.StreamSeq,
		Inserts: c.Inserts + c.SnapshotReads, Updates: c.Updates, Deletes: c.Deletes,
		NotUnlearned: c.UpdatesNotUnlearned + c.DeletesNotUnlearned + c.TruncatesNotUnlearned,
		RMSE:         v.Metrics.Cumulative.RMSE, RollingRMSE: v.Metrics.Rolling.RMSE, R2: v.Metrics.Cumulative.R2,
		FeatureCount: len(v.FeatureNames), Checksum: v.Checksum}
	if p := v.Position; p.LSNText != "" {
		s.Position = p.LSNText
	} else if p.GTID != "" {
		s.Position = p.GTID
	} else if p.File != "" {
		s.Position = p.File + ":" + strconv.FormatUint(p.Pos, 10)
	}
	if v.WarmStart != nil {
		s.WarmStartFrom = v.WarmStart.Path
	}
	return s
}

func newModelListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the learner's versions, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withModelEnv(cmd, func(ctx context.Context, e *modelEnv) error {
				vs, err := e.store.Versions(ctx, e.learner.Name)
				if err != nil {
					return err
				}
				list := []versionSummary{}
				for _, n := range vs {
					v, err := e.store.Load(ctx, e.learner.Name, n)
					if errors.Is(err, learner.ErrNotFound) {
						continue // deleted by retention since it was listed
					}
					if err != nil {
						list = append(list, versionSummary{Version: n, Error: err.Error()})
						continue
					}
					list = append(list, summarize(v))
				}
				if e.asJSON {
					return writeJSON(e.out, list)
				}
				if len(list) == 0 {
					fmt.Fprintf(e.out, "learner %s has no versions yet\n", e.learner.Name)
					return nil
				}
				tw := tabwriter.NewWriter(e.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tPARENT\tCREATED\tALGORITHM\tSTREAM_SEQ\tPOSITION\tINSERTS\tUPDATES\tDELETES\tNOT_UNLEARNED\tRMSE\tROLLING_RMSE\tR2")
				for _, s := range list {
					if s.Error != "" {
						fmt.Fprintf(tw, "%d\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", s.Version, s.Error)
						continue
					}
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\n", s.Version, s.Parent, s.CreatedAt.Format(time.RFC3339),
						s.Algorithm, s.StreamSeq, orDash(s.Position), s.Inserts, s.Updates, s.Deletes, s.NotUnlearned, s.RMSE, s.RollingRMSE, s.R2)
				}
				return tw.Flush()
			})
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newModelShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show [VERSION]",
		Short: "Show a version (the newest by default): counts, metrics, weights",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n uint64
			if len(args) == 1 {
				var err error
				if n, err = parseVersion(args[0]); err != nil {
					return err
				}
			}
			return withModelEnv(cmd, func(ctx context.Context, e *modelEnv) error {
				v, err := e.load(ctx, n)
				if err != nil {
					return err
				}
				if e.asJSON {
					return writeJSON(e.out, v)
				}
				printVersion(e.out, v)
				return nil
			})
		},
	}
}

func printVersion(w io.Writer, v *learner.Version) {
	s := summarize(v)
	fmt.Fprintf(w, "learner %s version %d (parent %d), %s, created %s\n", v.Learner, v.Version, v.Parent, v.Algorithm, v.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "source %s table %s target %s; hyperparameters l2=%g learning_rate=%g rolling_window=%d\n", v.Source, v.Table, v.Target,
		v.Hyperparameters.L2, v.Hyperparameters.LearningRate, v.Hyperparameters.RollingWindow)
	fmt.Fprintf(w, "learned through stream sequence %d, source position %s\n", v.StreamSeq, orDash(s.Position))
	c := v.Counts
	fmt.Fprintf(w, "counts: inserts %d, snapshot reads %d, updates %d, deletes %d, truncates %d; not unlearned: updates %d, deletes %d, truncates %d; skipped without target %d\n",
		c.Inserts, c.SnapshotReads, c.Updates, c.Deletes, c.Truncates, c.UpdatesNotUnlearned, c.DeletesNotUnlearned, c.TruncatesNotUnlearned, c.SkippedNoTarget)
	if len(c.Missing) > 0 {
		fmt.Fprintf(w, "missing values imputed: %v\n", c.Missing)
	}
	m := v.Metrics
	fmt.Fprintf(w, "prequential: cumulative n=%d MAE %.4f RMSE %.4f R² %.4f; rolling (last %d) MAE %.4f RMSE %.4f R² %.4f\n",
		m.Cumulative.N, m.Cumulative.MAE, m.Cumulative.RMSE, m.Cumulative.R2, m.Rolling.N, m.Rolling.MAE, m.Rolling.RMSE, m.Rolling.R2)
	if v.WarmStart != nil {
		fmt.Fprintf(w, "warm start: %s (sha256 %s)\n", v.WarmStart.Path, v.WarmStart.SHA256)
	}
	for _, a := range v.Approximations {
		fmt.Fprintf(w, "approximation: %s\n", a)
	}
	fmt.Fprintf(w, "checksum %s, feature spec %s\n\n", v.Checksum, v.FeatureSpecHash)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tWEIGHT\tMEAN\tSTD")
	fmt.Fprintf(tw, "(intercept)\t%.6g\t\t\n", v.Intercept)
	for _, n := range v.FeatureNames {
		st := v.FeatureStats[n]
		fmt.Fprintf(tw, "%s\t%.6g\t%.6g\t%.6g\n", n, v.Weights[n], st.Mean, st.Std)
	}
	tw.Flush()
}

func newModelDiffCmd() *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two versions: metric deltas and weight changes ranked by size",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			b, err := parseVersion(args[1])
			if err != nil {
				return err
			}
			return withModelEnv(cmd, func(ctx context.Context, e *modelEnv) error {
				va, err := e.load(ctx, a)
				if err != nil {
					return err
				}
				vb, err := e.load(ctx, b)
				if err != nil {
					return err
				}
				d := learner.Compare(va, vb)
				if e.asJSON {
					return writeJSON(e.out, struct {
						From uint64 `json:"from"`
						To   uint64 `json:"to"`
						learner.Diff
					}{a, b, d})
				}
				w := e.out
				fmt.Fprintf(w, "learner %s: version %d -> %d (stream sequence %d -> %d)\n", e.learner.Name, a, b, va.StreamSeq, vb.StreamSeq)
				c := d.CountDeltas
				fmt.Fprintf(w, "events: %+d inserts, %+d snapshot reads, %+d updates, %+d deletes, %+d truncates, %+d not unlearned\n",
					c.Inserts, c.SnapshotReads, c.Updates, c.Deletes, c.Truncates, c.UpdatesNotUnlearned+c.DeletesNotUnlearned+c.TruncatesNotUnlearned)
				m := d.MetricDeltas
				fmt.Fprintf(w, "cumulative: MAE %+.4f, RMSE %+.4f, R² %+.4f (%.4f -> %.4f RMSE)\n", m.Cumulative.MAE, m.Cumulative.RMSE, m.Cumulative.R2, va.Metrics.Cumulative.RMSE, vb.Metrics.Cumulative.RMSE)
				fmt.Fprintf(w, "rolling:    MAE %+.4f, RMSE %+.4f, R² %+.4f\n", m.Rolling.MAE, m.Rolling.RMSE, m.Rolling.R2)
				fmt.Fprintf(w, "intercept:  %+.6g\n\n", d.InterceptDelta)
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "FEATURE\tFROM\tTO\tDELTA\tDELTA×STD")
				for i, ch := range d.Weights {
					if top > 0 && i >= top {
						fmt.Fprintf(tw, "... %d more\t\t\t\t\n", len(d.Weights)-top)
						break
					}
					fmt.Fprintf(tw, "%s\t%.6g\t%.6g\t%+.6g\t%+.6g\n", ch.Feature, ch.From, ch.To, ch.Delta, ch.Scaled)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&top, "top", 0, "show only the N largest weight changes (0: all)")
	return cmd
}

func newModelPredictCmd() *cobra.Command {
	var rowJSON, version string
	cmd := &cobra.Command{
		Use:   "predict --row JSON [--version V]",
		Short: "Predict the target for a row (a JSON object of column values) with a version (the newest by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rowJSON == "" {
				return errors.New(`model predict: --row is required, e.g. --row '{"age": 35, "gender": "Female", "txn_date": "2024-06-30T10:34:56Z"}'`)
			}
			img, err := parseRow(rowJSON)
			if err != nil {
				return err
			}
			var n uint64
			if version != "" {
				if n, err = parseVersion(version); err != nil {
					return err
				}
			}
			return withModelEnv(cmd, func(ctx context.Context, e *modelEnv) error {
				v, err := e.load(ctx, n)
				if err != nil {
					return err
				}
				p, err := learner.PredictVersion(v, img)
				if err != nil {
					return err
				}
				if e.asJSON {
					return writeJSON(e.out, p)
				}
				fmt.Fprintf(e.out, "%s = %.6g  (learner %s version %d)\n", v.Target, p.Prediction, v.Learner, v.Version)
				if len(p.Imputed) > 0 {
					fmt.Fprintf(e.out, "imputed (missing): %v\n", p.Imputed)
				}
				if len(p.UnseenLevels) > 0 {
					fmt.Fprintf(e.out, "levels the model has not seen (no weight): %v\n", p.UnseenLevels)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&rowJSON, "row", "", "the row: a JSON object of column values, as in the event format")
	cmd.Flags().StringVar(&version, "version", "", "version number (default: the newest)")
	return cmd
}

// parseRow reads a JSON object of column values into a row image.
func parseRow(s string) (change.Row, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("model predict: --row: want a JSON object of column values: %w", err)
	}
	img := make(change.Row, 0, len(m))
	for k, v := range m {
		img = append(img, change.Field{Name: k, Value: v})
	}
	return img, nil
}
