package batch

import (
	"math"
	"time"
)

// The column names of customer_transactions as the database, the learner and
// the preprocess output spell them.
const (
	ColCustomerID      = "customer_id"
	ColTxnDate         = "txn_date"
	ColAmount          = "amount"
	ColAge             = "age"
	ColGender          = "gender"
	ColTransactionType = "transaction_type"
	ColLocation        = "location"
	ColDevice          = "device"
)

// CSVHeader is the header of the seed CSV: the original export's column
// names, in order. SnakeNames gives the name each maps to.
var CSVHeader = []string{"CustomerID", "Date", "Amount", "Age", "Gender", "TransactionType", "Location", "Device"}

// SnakeNames are the database names of CSVHeader's columns, in the same order.
var SnakeNames = []string{ColCustomerID, ColTxnDate, ColAmount, ColAge, ColGender, ColTransactionType, ColLocation, ColDevice}

// Spec names the columns a model uses, by kind, as the learner config does
// (config.FeatureConfig).
type Spec struct {
	Numeric     []string `json:"numeric"`
	Categorical []string `json:"categorical"`
	Datetime    []string `json:"datetime"`
}

// DefaultSpec is the feature spec of customer_transactions that DESIGN.md's
// example learner uses.
func DefaultSpec() Spec {
	return Spec{
		Numeric:     []string{ColAge},
		Categorical: []string{ColGender, ColTransactionType, ColLocation, ColDevice},
		Datetime:    []string{ColTxnDate},
	}
}

// DatetimeParts are the features one datetime column expands to, in order.
// The angle of hour is 2π·hour/24 (UTC hour 0-23), of dow 2π·weekday/7
// (Sunday = 0), of month 2π·(month-1)/12; days is the time since the Unix
// epoch in days, with a fraction.
var DatetimeParts = []string{"hour_sin", "hour_cos", "dow_sin", "dow_cos", "month_sin", "month_cos", "days"}

// DatetimeValues returns the raw values of DatetimeParts for t, in UTC.
func DatetimeValues(t time.Time) [7]float64 {
	t = t.UTC()
	h := 2 * math.Pi * float64(t.Hour()) / 24
	d := 2 * math.Pi * float64(t.Weekday()) / 7
	m := 2 * math.Pi * float64(t.Month()-1) / 12
	days := float64(t.UnixMicro()) / 86400e6
	return [7]float64{math.Sin(h), math.Cos(h), math.Sin(d), math.Cos(d), math.Sin(m), math.Cos(m), days}
}

// NumericFeature, CategoricalFeature and DatetimeFeature build feature names:
// "age", "gender=Male", "txn_date.hour_sin".
func NumericFeature(col string) string            { return col }
func CategoricalFeature(col, level string) string { return col + "=" + level }
func DatetimeFeature(col, part string) string     { return col + "." + part }

// Input is one row's values by column, as a model reads them. A numeric
// column that is absent or NaN counts as missing; a categorical column that is
// absent or empty is the level Unknown.
type Input struct {
	Numeric     map[string]float64
	Categorical map[string]string
	Datetime    map[string]time.Time
}

// Unknown is the level of a categorical column whose value is missing.
const Unknown = "Unknown"

// RawFeatures returns the unstandardized feature values of in under spec, by
// feature name: numeric columns as they are, one-hot 1 for the row's level of
// each categorical column, and DatetimeParts for each datetime column. A
// missing numeric column is left out.
func RawFeatures(spec Spec, in Input) map[string]float64 {
	out := make(map[string]float64, len(spec.Numeric)+len(spec.Categorical)+7*len(spec.Datetime))
	for _, c := range spec.Numeric {
		if v, ok := in.Numeric[c]; ok && !math.IsNaN(v) {
			out[NumericFeature(c)] = v
		}
	}
	for _, c := range spec.Categorical {
		lv := in.Categorical[c]
		if lv == "" {
			lv = Unknown
		}
		out[CategoricalFeature(c, lv)] = 1
	}
	for _, c := range spec.Datetime {
		t, ok := in.Datetime[c]
		if !ok {
			continue
		}
		v := DatetimeValues(t)
		for i, p := range DatetimeParts {
			out[DatetimeFeature(c, p)] = v[i]
		}
	}
	return out
}

// Linear is a linear function of raw feature values: the form both the
// generator's truth and the standardized model reduce to.
type Linear struct {
	Intercept    float64            `json:"intercept"`
	Coefficients map[string]float64 `json:"coefficients"`
}

// Eval returns the intercept plus the sum of coefficient × value over the
// features present in x; features without a coefficient contribute nothing.
func (l Linear) Eval(x map[string]float64) float64 {
	y := l.Intercept
	for k, v := range x {
		y += l.Coefficients[k] * v
	}
	return y
}
