package learner

import (
	"math"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
)

func TestParseValues(t *testing.T) {
	nums := []struct {
		raw  string
		want float64
		ok   bool
	}{
		{`12`, 12, true}, {`"12.50"`, 12.5, true}, {`-0.5`, -0.5, true}, {`"1e3"`, 1000, true},
		{`9007199254740993`, 9007199254740992, true}, {`null`, 0, false}, {``, 0, false},
		{`"NaN"`, 0, false}, {`"Infinity"`, 0, false}, {`"abc"`, 0, false}, {`true`, 1, true},
		{`"__debezium_unavailable_value"`, 0, false},
	}
	for _, c := range nums {
		got, ok := parseNumber([]byte(c.raw))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseNumber(%s) = %v, %v; want %v, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
	ref := time.Date(2024, 6, 30, 10, 34, 56, 789000000, time.UTC).UnixMicro()
	times := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`"2024-06-30T10:34:56.789Z"`, ref, true},
		{`"2024-06-30 10:34:56.789"`, ref, true},
		{`"2024-06-30T10:34:56.789000"`, ref, true},
		{`"2024-06-30T16:04:56.789+05:30"`, ref, true},
		{`"2024-06-30T07:34:56.789-03"`, ref, true},
		{`"2024-06-30"`, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC).UnixMicro(), true},
		{`"1969-12-31T23:59:59.5Z"`, -500000, true},
		{`"2024-06-30T10:34:56.123456789Z"`, time.Date(2024, 6, 30, 10, 34, 56, 123456000, time.UTC).UnixMicro(), true},
		{`1719743696`, 1719743696e6, true},
		{`"infinity"`, 0, false}, {`"2024-13-30"`, 0, false}, {`null`, 0, false},
	}
	for _, c := range times {
		got, ok := parseTime([]byte(c.raw))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseTime(%s) = %v, %v; want %v, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
	for d := int64(-800000); d < 800000; d += 997 {
		tm := time.Unix(d*86400, 0).UTC()
		if m := monthFromDays(d); m != int(tm.Month()) {
			t.Fatalf("monthFromDays(%d) = %d, want %d", d, m, tm.Month())
		}
		if got := daysFromCivil(int64(tm.Year()), int64(tm.Month()), int64(tm.Day())); got != d {
			t.Fatalf("daysFromCivil(%v) = %d, want %d", tm, got, d)
		}
	}
}

func TestFeaturizer(t *testing.T) {
	f, err := NewFeaturizer(config.FeatureConfig{Numeric: []string{"age"}, Categorical: []string{"city"}, Datetime: []string{"at"}}, "y")
	if err != nil {
		t.Fatal(err)
	}
	r := f.newRow()
	var v Vec
	img := change.Row{{Name: "y", Value: []byte(`"3.5"`)}, {Name: "age", Value: []byte("40")}, {Name: "city", Value: []byte(`"Zürich \"Nord\""`)},
		{Name: "at", Value: []byte(`"2024-03-03T13:00:00Z"`)}} // a Sunday, 13 h, March
	f.read(img, r)
	if !f.complete(r) || !r.yOK || r.y != 3.5 {
		t.Fatalf("read: complete %v, y %v %v", f.complete(r), r.y, r.yOK)
	}
	f.encode(r, &v, true)
	f.observe(r, 1)
	want := map[string]float64{"age": 40, "at.hour_sin": math.Sin(2 * math.Pi * 13 / 24), "at.hour_cos": math.Cos(2 * math.Pi * 13 / 24),
		"at.dow_sin": 0, "at.dow_cos": 1, "at.month_sin": math.Sin(2 * math.Pi * 2 / 12), "at.month_cos": math.Cos(2 * math.Pi * 2 / 12),
		"at.days": 13.0 / 24, `city=Zürich "Nord"`: 1}
	got := map[string]float64{}
	for k, i := range v.Idx {
		got[f.Names()[i]] = v.Val[k]
	}
	for n, w := range want {
		if math.Abs(got[n]-w) > 1e-12 {
			t.Errorf("feature %s = %v, want %v (all: %v)", n, got[n], w, got)
		}
	}
	// A row with everything missing: mean age, the Unknown level, zero
	// datetime parts; the vocabulary grows by one level.
	f.read(change.Row{{Name: "y", Value: []byte("1")}, {Name: "age", Value: nil}}, r)
	if f.complete(r) {
		t.Error("a row lacking city and at is complete")
	}
	var missing []string
	f.missing(r, func(c string) { missing = append(missing, c) })
	if len(missing) != 3 {
		t.Errorf("missing = %v", missing)
	}
	f.encode(r, &v, true)
	if f.Dim() != 1+7+2 || f.Names()[9] != "city=Unknown" || v.Val[0] != 40 {
		t.Errorf("names %v, values %v", f.Names(), v.Val)
	}
	// Without growing, an unseen level sets no feature.
	f.read(change.Row{{Name: "city", Value: []byte(`"Bern"`)}}, r)
	f.encode(r, &v, false)
	if len(v.Idx) != 8 || f.Dim() != 10 {
		t.Errorf("unseen level: %d features set, dim %d", len(v.Idx), f.Dim())
	}
}
