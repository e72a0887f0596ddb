package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// decoder copies a raw YAML tree (maps, lists, scalars) onto typed values,
// recording which key paths were present and a problem for every unknown
// key or mistyped value.
type decoder struct {
	problems Problems
	present  map[string]bool
}

// decode sets v from raw; path names v in problems.
func (d *decoder) decode(path string, raw any, v reflect.Value) {
	t := v.Type()
	switch {
	case t == durationType:
		dur, ok := toDuration(raw)
		if !ok {
			d.mistyped(path, "a duration such as 30s", raw)
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.mistyped(path, "a string", raw)
			return
		}
		v.SetString(s)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, ok := toInt(raw)
		if !ok || v.OverflowInt(n) {
			d.mistyped(path, "an integer", raw)
			return
		}
		v.SetInt(n)
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		n, ok := toInt(raw)
		if !ok || n < 0 || v.OverflowUint(uint64(n)) {
			d.mistyped(path, fmt.Sprintf("an integer from 0 to %d", uint64(1)<<t.Bits()-1), raw)
			return
		}
		v.SetUint(uint64(n))
	case t.Kind() == reflect.Float64:
		f, ok := toFloat(raw)
		if !ok {
			d.mistyped(path, "a number", raw)
			return
		}
		v.SetFloat(f)
	case t.Kind() == reflect.Slice:
		d.decodeList(path, raw, v)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(path, raw, v)
	default:
		panic(fmt.Sprintf("config: field %s has unsupported type %s", path, t))
	}
}

func (d *decoder) decodeList(path string, raw any, v reflect.Value) {
	var items []any
	switch r := raw.(type) {
	case []any:
		items = r
	case string:
		// A comma-separated string, as set from the environment.
		if v.Type().Elem().Kind() != reflect.String {
			d.mistyped(path, describe(v.Type()), raw)
			return
		}
		for _, s := range strings.Split(r, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		d.mistyped(path, describe(v.Type()), raw)
		return
	}
	list := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		if item == nil {
			if v.Type().Elem().Kind() != reflect.Struct {
				d.mistyped(p, describe(v.Type().Elem()), item)
			}
			continue
		}
		d.decode(p, item, list.Index(i))
	}
	v.Set(list)
}

func (d *decoder) decodeStruct(path string, raw any, v reflect.Value) {
	m, ok := toMap(raw)
	if !ok {
		d.mistyped(path, "a mapping", raw)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t := v.Type()
	for _, k := range keys {
		p := joinPath(path, k)
		_, i, ok := fieldByKey(t, k)
		if !ok {
			d.problems.add(p, "unknown key"+suggest(t, k))
			continue
		}
		val := m[k]
		if val == nil {
			continue // "key:" with no value, or null: unset
		}
		d.present[p] = true
		d.decode(p, val, v.Field(i))
	}
}

func (d *decoder) mistyped(path, want string, raw any) {
	d.problems.add(path, fmt.Sprintf("expected %s, got %s", want, show(raw)))
}

// joinPath appends a key to a path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func toMap(raw any) (map[string]any, bool) {
	switch m := raw.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[strings.ToLower(fmt.Sprint(k))] = v
		}
		return out, true
	}
	return nil, false
}

func toInt(raw any) (int64, bool) {
	switch n := raw.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case uint32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}

func toFloat(raw any) (float64, bool) {
	switch n := raw.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	if i, ok := toInt(raw); ok {
		return float64(i), true
	}
	return 0, false
}

func toDuration(raw any) (time.Duration, bool) {
	switch r := raw.(type) {
	case string:
		s := strings.TrimSpace(r)
		if s == "" {
			return 0, true
		}
		dur, err := time.ParseDuration(s)
		return dur, err == nil
	case int, int64, uint64:
		n, ok := toInt(r)
		return 0, ok && n == 0 // only 0 needs no unit
	}
	return 0, false
}

// describe names a type for "expected ..." messages.
func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30s"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings"
	case t.Kind() == reflect.Slice:
		return "a list of mappings"
	case t.Kind() == reflect.Struct:
		return "a mapping"
	case t.Kind() == reflect.Float64:
		return "a number"
	default:
		return "an integer"
	}
}

// show renders a raw value for a message, briefly.
func show(raw any) string {
	var s string
	switch r := raw.(type) {
	case nil:
		return "nothing"
	case string:
		s = strconv.Quote(r)
	case []any:
		return fmt.Sprintf("a list of %d items", len(r))
	case map[string]any, map[any]any:
		return "a mapping"
	default:
		s = fmt.Sprint(r)
	}
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// suggest returns ` (did you mean "x"?)` when key is a near miss of one of
// t's keys.
func suggest(t reflect.Type, key string) string {
	best, bestDist := "", 3
	for i := 0; i < t.NumField(); i++ {
		k := tagKey(t.Field(i))
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance between a and b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
