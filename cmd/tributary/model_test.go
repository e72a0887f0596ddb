package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/gen"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/learner"
	"github.com/tributary-cdc/tributary/sinks/jetstream"
)

// writeModelConfig writes a config with one ridge learner over an embedded
// JetStream listening on port, data in dir/data.
func writeModelConfig(t *testing.T, dir string, port int) string {
	t.Helper()
	path := filepath.Join(dir, "tributary.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
admin: {listen: ""}
sources:
  - name: shop
    type: postgres
    dsn: postgres://u@127.0.0.1:1/shop
    tables: [public.customer_transactions]
sinks:
  - type: jetstream
    listen: 127.0.0.1:%d
learners:
  - name: amount
    source: shop
    table: public.customer_transactions
    target: amount
    features:
      numeric: [age]
      categorical: [gender, transaction_type, location, device]
      datetime: [txn_date]
    algorithm: ridge
`, filepath.Join(dir, "data"), port)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// saveTestVersions learns generated rows and saves three versions to the
// object store of the embedded server at url.
func saveTestVersions(t *testing.T, cfgPath, url string) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := jetstream.Connect(ctx, url, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	blobs, err := jetstream.NewObjectBlobs(ctx, nc, jetstream.DefaultModelBucket)
	if err != nil {
		t.Fatal(err)
	}
	st := learner.Store{Blobs: blobs}
	l, err := learner.New(cfg.Learners[0])
	if err != nil {
		t.Fatal(err)
	}
	g := gen.NewGenerator(1, gen.Options{Rows: 3000})
	seq := uint64(0)
	for v := uint64(1); v <= 3; v++ {
		for range 1000 {
			seq++
			r := g.Next()
			img := change.Row{
				{Name: "id", Value: []byte(strconv.FormatUint(seq, 10))},
				{Name: "amount", Value: change.AppendString(nil, r.AmountString())},
				{Name: "age", Value: []byte(strconv.Itoa(r.Age))},
				{Name: "gender", Value: change.AppendString(nil, r.Gender)},
				{Name: "transaction_type", Value: change.AppendString(nil, r.TransactionType)},
				{Name: "location", Value: change.AppendString(nil, r.Location)},
				{Name: "device", Value: change.AppendString(nil, r.Device)},
				{Name: "txn_date", Value: change.AppendString(nil, r.Date.Format(time.RFC3339))},
			}
			l.Apply(&change.Event{Op: change.OpCreate, After: img, Source: change.Source{Connector: "postgresql", Name: "shop", Schema: "public", Table: "customer_transactions", LSN: seq * 100}}, seq)
		}
		ver, err := l.Snapshot(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Save(ctx, ver); err != nil {
			t.Fatal(err)
		}
		l.Saved(v)
	}
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		err = fmt.Errorf("%w (stderr: %s)", err, errb.String())
	}
	return out.String(), err
}

// The model commands read versions from the object store of the embedded
// server both when the daemon's server is up (they connect to it) and when
// it is not (they open its store themselves).
func TestModelCommands(t *testing.T) {
	dir := t.TempDir()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := writeModelConfig(t, dir, port)
	ctx := context.Background()
	e, err := jetstream.StartEmbedded(ctx, jetstream.EmbeddedOptions{StoreDir: filepath.Join(dir, "data", "nats"), Listen: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	saveTestVersions(t, cfgPath, e.URL())

	check := func(t *testing.T) {
		out, err := runCLI(t, "model", "list", "--config", cfgPath, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var list []struct {
			Version, Parent, StreamSeq uint64
			Inserts                    int64
			RMSE                       float64
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("list --json: %v\n%s", err, out)
		}
		if len(list) != 3 || list[2].Version != 3 || list[2].Parent != 2 || list[2].Inserts != 3000 {
			t.Fatalf("list = %+v", list)
		}
		out, err = runCLI(t, "model", "list", "--config", cfgPath)
		if err != nil || !strings.Contains(out, "VERSION") || strings.Count(out, "\n") != 4 {
			t.Fatalf("list: %v\n%s", err, out)
		}
		out, err = runCLI(t, "model", "show", "--config", cfgPath, "--learner", "amount")
		if err != nil || !strings.Contains(out, "learner amount version 3 (parent 2), ridge") || !strings.Contains(out, "location=Chicago") {
			t.Fatalf("show: %v\n%s", err, out)
		}
		out, err = runCLI(t, "model", "show", "1", "--config", cfgPath, "--json")
		var v learner.Version
		if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Version != 1 || v.StreamSeq != 1000 {
			t.Fatalf("show 1 --json: %v %+v", err, v.Version)
		}
		out, err = runCLI(t, "model", "diff", "1", "3", "--config", cfgPath, "--json")
		var d struct {
			From, To     uint64
			MetricDeltas learner.Metrics `json:"metric_deltas"`
			Weights      []learner.WeightChange
			CountDeltas  learner.Counts `json:"count_deltas"`
		}
		if err != nil || json.Unmarshal([]byte(out), &d) != nil || d.To != 3 || d.CountDeltas.Inserts != 2000 || len(d.Weights) != len(v.FeatureNames) {
			t.Fatalf("diff --json: %v\n%s", err, out)
		}
		for i := 1; i < len(d.Weights); i++ {
			if absFloat(d.Weights[i].Scaled) > absFloat(d.Weights[i-1].Scaled) {
				t.Fatalf("weight changes not ranked: %+v", d.Weights[:i+1])
			}
		}
		out, err = runCLI(t, "model", "diff", "1", "3", "--config", cfgPath, "--top", "3")
		if err != nil || !strings.Contains(out, "RMSE") || !strings.Contains(out, "more") {
			t.Fatalf("diff: %v\n%s", err, out)
		}
		row := `{"age": 30, "gender": "Male", "transaction_type": "Gift Card", "location": "San Jose", "device": "Desktop", "txn_date": "2024-06-30T19:00:00Z"}`
		out, err = runCLI(t, "model", "predict", "--config", cfgPath, "--json", "--row", row, "--version", "2")
		var p learner.Prediction
		if err != nil || json.Unmarshal([]byte(out), &p) != nil || p.Version != 2 || p.Prediction < 150 || p.Prediction > 260 {
			t.Fatalf("predict: %v\n%s", err, out)
		}
		if _, err := runCLI(t, "model", "show", "9", "--config", cfgPath); err == nil {
			t.Fatal("show of a missing version succeeded")
		}
	}
	t.Run("daemon server up", check)
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("daemon not running", check)
}

func absFloat(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// The model commands work on a store whose oldest versions retention has
// deleted: list shows what is left, show loads the newest, and a deleted
// version is reported missing.
func TestModelCommandsOnPrunedStore(t *testing.T) {
	dir := t.TempDir()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := writeModelConfig(t, dir, port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := jetstream.StartEmbedded(ctx, jetstream.EmbeddedOptions{StoreDir: filepath.Join(dir, "data", "nats"), Listen: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	saveTestVersions(t, cfgPath, e.URL())
	nc, err := jetstream.Connect(ctx, e.URL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	blobs, err := jetstream.NewObjectBlobs(ctx, nc, jetstream.DefaultModelBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.Delete(ctx, learner.VersionName("amount", 1)); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "model", "list", "--config", cfgPath, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Version, Parent uint64
		Error           string
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(list) != 2 || list[0].Version != 2 || list[0].Parent != 1 || list[1].Version != 3 || list[0].Error != "" || list[1].Error != "" {
		t.Fatalf("list of the pruned store = %+v", list)
	}
	out, err = runCLI(t, "model", "list", "--config", cfgPath)
	if err != nil || strings.Count(out, "\n") != 3 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runCLI(t, "model", "show", "--config", cfgPath)
	if err != nil || !strings.Contains(out, "learner amount version 3 (parent 2)") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "model", "diff", "2", "3", "--config", cfgPath); err != nil {
		t.Fatalf("diff 2 3: %v", err)
	}
	if _, err := runCLI(t, "model", "show", "1", "--config", cfgPath); err == nil {
		t.Fatal("show of a deleted version succeeded")
	}
}
