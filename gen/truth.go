package gen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/tributary-cdc/tributary/batch"
)

// The generating process's levels, in index order.
var (
	Genders          = []string{"Female", "Male", "Other"}
	TransactionTypes = []string{"Purchase", "Subscription", "Gift Card", "Bill Payment"}
	Locations        = []string{"New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio", "San Diego", "Dallas", "San Jose"}
	Devices          = []string{"Mobile", "Desktop", "Tablet"}
)

// The shares of each level.
var (
	genderWeights   = []float64{0.49, 0.48, 0.03}
	typeWeights     = []float64{0.60, 0.15, 0.10, 0.15}
	locationWeights = []float64{0.18, 0.14, 0.12, 0.10, 0.08, 0.08, 0.07, 0.08, 0.08, 0.07}
	deviceWeights   = []float64{0.55, 0.35, 0.10}
)

// The true coefficients of the amount model (currency units). Amount =
// BaseAmount + AgeCoef·age + GenderCoef[g] + TypeCoef[t] + LocationCoef[l] +
// DeviceCoef[d] + Σ DatetimeCoef[k]·part_k(txn_date) + N(0, NoiseSD²), rounded
// to cents with a floor of MinAmountCents, where the parts are
// batch.DatetimeParts and "days" counts from TrendOrigin.
const (
	BaseAmount     = 90.0
	AgeCoef        = 0.9
	NoiseSD        = 20.0
	MinAmountCents = 100
)

// TrendOrigin is where the linear trend of the amount is zero.
var TrendOrigin = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	GenderCoef   = []float64{0, 4, 2}
	TypeCoef     = []float64{0, -25, 30, 15}
	LocationCoef = []float64{20, 15, 5, -5, -8, 0, -10, 8, -2, 25}
	DeviceCoef   = []float64{0, 12, 6}
	// DatetimeCoef follows batch.DatetimeParts: hour_sin, hour_cos, dow_sin,
	// dow_cos, month_sin, month_cos, days (6 a year).
	DatetimeCoef = [7]float64{-4, -9, -3, 4, -3, 7, 6 / 365.25}
)

// TruthFormat is the format name written into truth files.
const TruthFormat = "tributary.truth/1"

// Truth is the generating process's known answer for a generated file: the
// true linear model of amount on raw features (batch.RawFeatures names), the
// noise level, and how well the truth itself predicts the rows it generated.
type Truth struct {
	Format string `json:"format"`
	Seed   int64  `json:"seed"`
	Target string `json:"target"`
	// Formula states the model in words.
	Formula string `json:"formula"`
	batch.Linear
	NoiseSD float64 `json:"noise_sd"`
	// MinAmount is the floor amounts are clamped to.
	MinAmount float64 `json:"min_amount"`
	// Stats of the truth on the clean rows it generated (duplicates and dirt
	// excluded, amounts as generated).
	Rows        int64   `json:"rows"`
	R2          float64 `json:"r2"`
	RMSE        float64 `json:"rmse"`
	MAE         float64 `json:"mae"`
	ClampedRows int64   `json:"clamped_rows"`
	// Lines is the number of data lines written (Rows plus duplicate copies).
	Lines    int64       `json:"lines"`
	Dirt     DirtOptions `json:"dirt"`
	Injected Injected    `json:"injected"`
}

// TruthLinear returns the true model as coefficients by raw feature name.
func TruthLinear() batch.Linear {
	l := batch.Linear{Intercept: Intercept(), Coefficients: map[string]float64{}}
	l.Coefficients[batch.NumericFeature(batch.ColAge)] = AgeCoef
	add := func(col string, levels []string, coef []float64) {
		for i, lv := range levels {
			l.Coefficients[batch.CategoricalFeature(col, lv)] = coef[i]
		}
	}
	add(batch.ColGender, Genders, GenderCoef)
	add(batch.ColTransactionType, TransactionTypes, TypeCoef)
	add(batch.ColLocation, Locations, LocationCoef)
	add(batch.ColDevice, Devices, DeviceCoef)
	for i, p := range batch.DatetimeParts {
		l.Coefficients[batch.DatetimeFeature(batch.ColTxnDate, p)] = DatetimeCoef[i]
	}
	return l
}

const formula = "amount = intercept + sum(coefficient * feature) + N(0, noise_sd^2), rounded to cents, floored at min_amount; " +
	"features: age in years; one-hot gender, transaction_type, location, device; txn_date parts (UTC): " +
	"hour_sin/cos = sin/cos(2*pi*hour/24), dow_sin/cos = sin/cos(2*pi*weekday/7) with Sunday=0, " +
	"month_sin/cos = sin/cos(2*pi*(month-1)/12), days = days since 1970-01-01"

// truthStats accumulates the truth's fit on the rows it generated.
type truthStats struct {
	n, clamped          int64
	mean, m2, sse, sabs float64
}

func (s *truthStats) add(r Row, mean float64) {
	y := float64(r.Amount) / 100
	s.n++
	d := y - s.mean
	s.mean += d / float64(s.n)
	s.m2 += d * (y - s.mean)
	e := y - mean
	s.sse += e * e
	s.sabs += math.Abs(e)
	if r.Amount == MinAmountCents {
		s.clamped++
	}
}

func (s *truthStats) fill(t *Truth) {
	t.Rows = s.n
	t.ClampedRows = s.clamped
	if s.n == 0 {
		return
	}
	t.RMSE = math.Sqrt(s.sse / float64(s.n))
	t.MAE = s.sabs / float64(s.n)
	if s.m2 > 0 {
		t.R2 = 1 - s.sse/s.m2
	}
}

// WriteTruth writes t as indented JSON to path.
func WriteTruth(path string, t Truth) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("encode truth: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write truth %s: %w", path, err)
	}
	return nil
}

// ReadTruth reads a truth file written by WriteTruth.
func ReadTruth(r io.Reader) (Truth, error) {
	var t Truth
	if err := json.NewDecoder(r).Decode(&t); err != nil {
		return t, fmt.Errorf("decode truth: %w", err)
	}
	if t.Format != TruthFormat {
		return t, fmt.Errorf("decode truth: format %q, want %q", t.Format, TruthFormat)
	}
	return t, nil
}
