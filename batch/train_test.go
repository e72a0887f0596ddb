package batch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/tributary-cdc/tributary/batch"
	"github.com/tributary-cdc/tributary/gen"
)

// TestTrainReachesTruth is the acceptance check on 50,000 rows of
// the dirty seed data: preprocess, train, and the holdout R² within 0.01 of
// what the generator's known truth reaches on the same rows.
func TestTrainReachesTruth(t *testing.T) {
	dir := t.TempDir()
	in, truth := genFile(t, dir, 50000, gen.DefaultDirt())
	clean := filepath.Join(dir, "clean.parquet")
	if _, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: clean}); err != nil {
		t.Fatal(err)
	}
	res, err := batch.Train(context.Background(), batch.TrainOptions{In: clean})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if m.Metrics.TruthHoldout == nil {
		t.Fatal("the truth file was not found through the preprocess report")
	}
	gap := m.Metrics.TruthHoldout.R2 - m.Metrics.Holdout.R2
	t.Logf("holdout R² model %.4f truth %.4f (gap %.4f); truth R² on all rows %.4f", m.Metrics.Holdout.R2, m.Metrics.TruthHoldout.R2, gap, truth.R2)
	if math.Abs(gap) > 0.01 {
		t.Errorf("holdout R² %.4f is not within 0.01 of the truth's %.4f", m.Metrics.Holdout.R2, m.Metrics.TruthHoldout.R2)
	}
	if m.Metrics.Holdout.Rows < 8000 || m.Metrics.Holdout.Rows > 12000 {
		t.Errorf("holdout rows %d of ~48,000, want about 20%%", m.Metrics.Holdout.Rows)
	}
	// The fitted weights recover the true coefficients.
	raw := m.Raw()
	for name, want := range map[string]float64{"age": gen.AgeCoef, "txn_date.hour_cos": gen.DatetimeCoef[1]} {
		if got := raw.Coefficients[name]; math.Abs(got-want) > 0.25*math.Abs(want)+0.1 {
			t.Errorf("raw coefficient %s = %.3f, truth %.3f", name, got, want)
		}
	}
	diff := raw.Coefficients["transaction_type=Gift Card"] - raw.Coefficients["transaction_type=Subscription"]
	if want := gen.TypeCoef[2] - gen.TypeCoef[1]; math.Abs(diff-want) > 3 {
		t.Errorf("Gift Card - Subscription = %.2f, truth %.2f", diff, want)
	}
	// The file on disk is the model.
	back, err := batch.LoadModel(res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	if back.TrainingData.SHA256 == "" || back.TrainingData.SHA256 != m.TrainingData.SHA256 || len(back.TrainingData.SHA256) != 64 {
		t.Errorf("checksum %q vs %q", back.TrainingData.SHA256, m.TrainingData.SHA256)
	}
}

func TestModelRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in, _ := genFile(t, dir, 5000, gen.DefaultDirt())
	clean := filepath.Join(dir, "clean.csv") // the CSV output trains too
	if _, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: clean}); err != nil {
		t.Fatal(err)
	}
	res, err := batch.Train(context.Background(), batch.TrainOptions{In: clean, Truth: "-"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := batch.WriteModel(&buf, res.Model); err != nil {
		t.Fatal(err)
	}
	back, err := batch.ReadModel(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res.Model) {
		t.Fatalf("model changed in a round trip:\n%+v\n%+v", back, res.Model)
	}
	var buf2 bytes.Buffer
	if err := batch.WriteModel(&buf2, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Fatal("re-encoding a read model changes its bytes")
	}
	// Predict and the raw form agree, so the documented encoding is what
	// the weights mean.
	in1 := batch.Input{
		Numeric:     map[string]float64{"age": 37},
		Categorical: map[string]string{"gender": "Female", "transaction_type": "Gift Card", "location": "Chicago", "device": "Tablet"},
		Datetime:    map[string]time.Time{"txn_date": time.Date(2024, 6, 1, 19, 30, 0, 0, time.UTC)},
	}
	p := back.Predict(in1)
	r := back.Raw().Eval(batch.RawFeatures(back.Features, in1))
	if math.Abs(p-r) > 1e-6 || p < 50 || p > 300 {
		t.Fatalf("Predict = %v, raw = %v", p, r)
	}
	// A missing category is the level Unknown; an unseen level adds nothing.
	in1.Categorical["device"] = "Smart Fridge"
	if got := back.Predict(in1); math.Abs(got-(p-back.Weights["device=Tablet"])) > 1e-9 {
		t.Fatalf("unseen level: %v, want %v", got, p-back.Weights["device=Tablet"])
	}
	// Validation rejects what a reader must not use.
	for name, mutate := range map[string]func(map[string]any){
		"version":        func(m map[string]any) { m["format_version"] = 2 },
		"format":         func(m map[string]any) { m["format"] = "other" },
		"missing weight": func(m map[string]any) { delete(m["weights"].(map[string]any), "age") },
		"feature order": func(m map[string]any) {
			f := m["feature_names"].([]any)
			f[0], f[1] = f[1], f[0]
		},
	} {
		var raw map[string]any
		if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		mutate(raw)
		b, _ := json.Marshal(raw)
		if _, err := batch.ReadModel(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: ReadModel accepted a bad model", name)
		}
	}
}

// TestParquetSchema checks the output uses plain types other tools read.
func TestParquetSchema(t *testing.T) {
	dir := t.TempDir()
	in, _ := genFile(t, dir, 2000, gen.DefaultDirt())
	out := filepath.Join(dir, "o.parquet")
	rep, err := batch.Preprocess(context.Background(), batch.Options{In: in, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRows() != rep.RowsOut {
		t.Fatalf("rows %d, report %d", pf.NumRows(), rep.RowsOut)
	}
	fields := pf.Schema().Fields()
	var names []string
	types := map[string]string{}
	for _, fd := range fields {
		names = append(names, fd.Name())
		lt := ""
		if l := fd.Type().LogicalType(); l != nil {
			lt = l.String()
		}
		types[fd.Name()] = fd.Type().Kind().String() + " " + lt
		if len(fd.Fields()) > 0 || fd.Repeated() {
			t.Errorf("column %s is nested or repeated", fd.Name())
		}
	}
	if strings.Join(names, ",") != strings.Join(batch.OutputColumns, ",") {
		t.Errorf("columns %v, want %v", names, batch.OutputColumns)
	}
	for col, want := range map[string]string{
		"customer_id": "INT64 INT(64,true)", "amount": "DOUBLE ", "gender": "BYTE_ARRAY STRING",
		"txn_date": "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", "is_weekend": "BOOLEAN ",
	} {
		if types[col] != want {
			t.Errorf("column %s type %q, want %q", col, types[col], want)
		}
	}
}
