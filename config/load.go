package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/viper"
)

// EnvPrefix starts the name of every environment override.
const EnvPrefix = "TRIBUTARY_"

// EnvConfig names the environment variable that holds the config file path.
const EnvConfig = "TRIBUTARY_CONFIG"

// DefaultPath is the config file used when neither --config nor
// $TRIBUTARY_CONFIG is given.
const DefaultPath = "./tributary.yaml"

// ResolvePath returns the config file to read: the --config flag value when
// not empty, else $TRIBUTARY_CONFIG, else ./tributary.yaml.
func ResolvePath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(EnvConfig); env != "" {
		return env
	}
	return DefaultPath
}

// Load reads the YAML file at path, applies environment overrides and ${VAR}
// expansion, fills in defaults and validates the result (see the package
// doc). When the file cannot be read or parsed it returns a wrapped error;
// when its content is wrong it returns Problems listing every problem, and a
// nil Config.
func Load(path string) (*Config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter("::"))
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	raw := v.AllSettings()

	envFrom := applyEnv(raw, os.Environ())

	var problems Problems
	expandTree("", raw, &problems)

	c := Default()
	d := decoder{present: map[string]bool{}}
	d.decodeStruct("", raw, reflect.ValueOf(&c).Elem())
	problems = append(problems, d.problems...)

	c.fillDefaults(func(p string) bool { return d.present[p] })
	var vp Problems
	if err := c.Validate(); err != nil {
		vp = err.(Problems)
	}
	// A field that could not be read gets no second complaint from
	// validation (an unset ${VAR} dsn is not also "required").
	unreadable := problems[:len(problems):len(problems)]
	for _, p := range vp {
		if !coveredBy(p.Field, unreadable) {
			problems = append(problems, p)
		}
	}
	for i, p := range problems {
		if env, ok := envFrom[p.Field]; ok {
			problems[i].Message += " (set by " + env + ")"
		}
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// coveredBy reports whether field, or a parent of it, already has a problem.
func coveredBy(field string, ps Problems) bool {
	for _, p := range ps {
		if field == p.Field || strings.HasPrefix(field, p.Field+".") || strings.HasPrefix(field, p.Field+"[") {
			return true
		}
	}
	return false
}

// applyEnv applies TRIBUTARY_<PATH> overrides from environ to the raw tree
// and returns, for each overridden path, the variable that set it.
func applyEnv(raw map[string]any, environ []string) map[string]string {
	var names []string
	values := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvConfig {
			continue
		}
		names = append(names, name)
		values[name] = val
	}
	// Sorted, so that a whole list (..._TABLES) is set before its items
	// (..._TABLES_1).
	sort.Strings(names)
	from := map[string]string{}
	for _, name := range names {
		segs, ok := matchEnv(reflect.TypeFor[Config](), strings.TrimPrefix(name, EnvPrefix))
		if !ok {
			continue
		}
		setPath(raw, segs, values[name])
		from[segsPath(segs)] = name
	}
	return from
}

// envSeg is one step of an override path: a key or a list index.
type envSeg struct {
	key   string
	index int // when key == ""
}

// matchEnv matches the rest of a variable name (after TRIBUTARY_) against
// type t. Only leaves (scalars, durations, lists of strings) can be set.
func matchEnv(t reflect.Type, rest string) ([]envSeg, bool) {
	switch t.Kind() {
	case reflect.Struct:
		if t == durationType {
			return nil, false
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			k := tagKey(f)
			up := strings.ToUpper(k)
			if rest == up && isLeaf(f.Type) {
				return []envSeg{{key: k}}, true
			}
			if sub, ok := strings.CutPrefix(rest, up+"_"); ok {
				if segs, ok := matchEnv(f.Type, sub); ok {
					return append([]envSeg{{key: k}}, segs...), true
				}
			}
		}
	case reflect.Slice:
		digits, sub, more := strings.Cut(rest, "_")
		idx, err := strconv.Atoi(digits)
		if err != nil || idx < 0 || idx > 1000 || strconv.Itoa(idx) != digits {
			return nil, false
		}
		if !more {
			if isLeaf(t.Elem()) {
				return []envSeg{{index: idx}}, true
			}
			return nil, false
		}
		if segs, ok := matchEnv(t.Elem(), sub); ok {
			return append([]envSeg{{index: idx}}, segs...), true
		}
	}
	return nil, false
}

// isLeaf reports whether a value of type t can be set from one variable.
func isLeaf(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return false
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return true
}

// setPath sets value at segs in the raw tree, creating maps and growing
// lists as needed.
func setPath(node map[string]any, segs []envSeg, value string) {
	var cur any = node
	set := func(v any) {} // replaces cur in its parent
	for i, s := range segs {
		last := i == len(segs)-1
		var next envSeg
		if !last {
			next = segs[i+1]
		}
		// container makes an empty container for the next step.
		container := func() any {
			if next.key == "" {
				return []any{}
			}
			return map[string]any{}
		}
		if s.key != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				m = map[string]any{}
				set(m)
			}
			if last {
				m[s.key] = value
				return
			}
			child := m[s.key]
			if !fits(child, next) {
				child = container()
				m[s.key] = child
			}
			key := s.key
			cur, set = child, func(v any) { m[key] = v }
			continue
		}
		l, _ := cur.([]any)
		for len(l) <= s.index {
			var zero any = ""
			if !last {
				zero = container()
			}
			l = append(l, zero)
		}
		set(l)
		if last {
			l[s.index] = value
			return
		}
		if !fits(l[s.index], next) {
			l[s.index] = container()
		}
		idx := s.index
		cur, set = l[idx], func(v any) { l[idx] = v }
	}
}

// fits reports whether v is the container the next step needs.
func fits(v any, next envSeg) bool {
	if next.key == "" {
		_, ok := v.([]any)
		return ok
	}
	_, ok := v.(map[string]any)
	return ok
}

func segsPath(segs []envSeg) string {
	var b strings.Builder
	for _, s := range segs {
		if s.key == "" {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// expandTree expands ${VAR} in every string of the raw tree in place.
func expandTree(path string, node any, problems *Problems) any {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			n[k] = expandTree(joinPath(path, k), v, problems)
		}
	case []any:
		for i, v := range n {
			n[i] = expandTree(fmt.Sprintf("%s[%d]", path, i), v, problems)
		}
	case string:
		s, err := Expand(n, os.LookupEnv)
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				problems.add(path, e.Error())
			}
		} else if err != nil {
			problems.add(path, err.Error())
		}
		return s
	}
	return node
}

// Expand replaces ${VAR} and ${VAR:-default} in s using lookup; $${ stands
// for a literal ${. It reports every unset variable without a default, and
// malformed references, in one error; the result then has them expanded
// to "".
func Expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var errs []error
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, errors.New("unterminated ${ (write $${ for a literal ${)"))
			break
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			errs = append(errs, fmt.Errorf("malformed reference ${%s}: want ${VAR} or ${VAR:-default}", ref))
			continue
		}
		val, ok := lookup(name)
		switch {
		case hasDef && val == "":
			b.WriteString(def)
		case ok:
			b.WriteString(val)
		default:
			errs = append(errs, fmt.Errorf("environment variable %s is not set (referenced as ${%s})", name, name))
		}
	}
	return b.String(), errors.Join(errs...)
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
