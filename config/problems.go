package config

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration. Field is the key path as
// written in the file, like "sources[0].tables" or "admin.listen".
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// String returns "field: message".
func (p Problem) String() string { return p.Field + ": " + p.Message }

// Problems is every problem found in a configuration, in the order of the
// documented layout (data_dir, log, admin, sources, sinks, learners; the
// fields of an item in their documented order). It implements error.
type Problems []Problem

// Error returns one "field: message" line per problem.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// add appends a problem.
func (ps *Problems) add(field, msg string) {
	*ps = append(*ps, Problem{Field: field, Message: msg})
}

// err returns ps sorted as an error, or nil when there are none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	sortProblems(ps)
	return ps
}

// sortProblems orders problems by where their field sits in the Config
// layout, keeping the order of problems on the same field.
func sortProblems(ps Problems) {
	keys := make(map[string][]orderKey, len(ps))
	for _, p := range ps {
		if _, ok := keys[p.Field]; !ok {
			keys[p.Field] = fieldOrder(p.Field)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		return lessOrder(keys[ps[i].Field], keys[ps[j].Field])
	})
}

// orderKey is one step of a field path: a struct field's position (unknown
// keys sort after the known ones, by name) or a list index.
type orderKey struct {
	n    int
	name string
}

func lessOrder(a, b []orderKey) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].n != b[i].n {
			return a[i].n < b[i].n
		}
		if a[i].name != b[i].name {
			return a[i].name < b[i].name
		}
	}
	return len(a) < len(b)
}

// fieldOrder turns a path like "sources[1].tables[0]" into sort keys by
// walking the Config type.
func fieldOrder(path string) []orderKey {
	var keys []orderKey
	t := reflect.TypeFor[Config]()
	for _, part := range splitPath(path) {
		if t != nil && t.Kind() == reflect.Slice {
			idx, _ := strconv.Atoi(part)
			keys = append(keys, orderKey{n: idx})
			t = t.Elem()
			continue
		}
		if t == nil || t.Kind() != reflect.Struct {
			keys = append(keys, orderKey{n: 1 << 20, name: part})
			t = nil
			continue
		}
		f, i, ok := fieldByKey(t, part)
		if !ok {
			keys = append(keys, orderKey{n: 1 << 20, name: part})
			t = nil
			continue
		}
		keys = append(keys, orderKey{n: i})
		t = f.Type
	}
	return keys
}

// splitPath splits "sources[1].tables[0]" into "sources", "1", "tables", "0".
func splitPath(path string) []string {
	var parts []string
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			parts = append(parts, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			parts = append(parts, idx)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return parts
}

// fieldByKey finds the struct field whose mapstructure tag is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, int, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tagKey(f) == key {
			return f, i, true
		}
	}
	return reflect.StructField{}, 0, false
}

// tagKey is the YAML key of a struct field: its mapstructure tag name.
func tagKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}
