package config

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestLearnerTuningDefaults(t *testing.T) {
	c := mustLoad(t, minimal+`
learners:
  - name: s
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
  - name: r
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
    algorithm: ridge
    aggregates: {keys: [customer_id, location]}
`)
	s, r := c.Learners[0], c.Learners[1]
	if s.LearningRate != 0.5 || s.L2 != 0 || s.RollingWindow != 1000 || !reflect.DeepEqual(s.Key, []string{"id"}) || s.Aggregates.Window != 0 {
		t.Errorf("sgd learner defaults = %+v", s)
	}
	if r.L2 != 1 || r.Aggregates.Window != 5*time.Minute || !reflect.DeepEqual(r.Aggregates.Keys, []string{"customer_id", "location"}) {
		t.Errorf("ridge learner defaults = %+v", r)
	}
}

func TestLearnerTuningValues(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(model, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, minimal+`
learners:
  - name: s
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
    learning_rate: 0.05
    l2: 1e-4
    rolling_window: 500
    key: [order_id, line]
    warm_start: `+model+`
    aggregates: {keys: [customer_id], window: 90s}
`)
	s := c.Learners[0]
	want := LearnerConfig{Name: "s", Source: "my-shop", Table: "public.t", Target: "y",
		Features: FeatureConfig{Numeric: []string{"x"}}, Algorithm: "sgd",
		VersionEvery: VersionEvery{10000, 30 * time.Second}, KeepVersions: 100, LearningRate: 0.05, L2: 1e-4,
		WarmStart: model, RollingWindow: 500, Key: []string{"order_id", "line"},
		Aggregates: AggregateConfig{Keys: []string{"customer_id"}, Window: 90 * time.Second}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("learner = %+v\nwant      %+v", s, want)
	}
}

func TestLearnerTuningFromEnv(t *testing.T) {
	t.Setenv("TRIBUTARY_LEARNERS_0_LEARNING_RATE", "0.25")
	t.Setenv("TRIBUTARY_LEARNERS_0_L2", "2")
	c := mustLoad(t, minimal+`
learners:
  - name: s
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
`)
	if l := c.Learners[0]; l.LearningRate != 0.25 || l.L2 != 2 {
		t.Errorf("learning_rate, l2 from env = %v, %v", l.LearningRate, l.L2)
	}
}

func TestLearnerTuningProblems(t *testing.T) {
	ps := problemsOf(t, minimal+`
learners:
  - name: r
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
    algorithm: ridge
    l2: 0
    rolling_window: 0
    warm_start: /nonexistent/model.json
    aggregates: {keys: [y, c, c]}
  - name: s
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
    learning_rate: -1
    l2: lots
    key: [""]
    aggregates: {window: 5m}
`)
	var got []string
	for _, p := range ps {
		got = append(got, p.Field)
	}
	sort.Strings(got)
	want := []string{
		"learners[0].aggregates.keys[0]", "learners[0].aggregates.keys[2]", "learners[0].l2",
		"learners[0].rolling_window", "learners[0].warm_start",
		"learners[1].aggregates.keys", "learners[1].key[0]", "learners[1].l2", "learners[1].learning_rate",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%v\nwant\n%v", ps, want)
	}
}

// keep_versions defaults to 100; an explicit 0 (keep all) is kept, from the
// file or the environment; FillDefaults treats 0 as unset.
func TestLearnerKeepVersions(t *testing.T) {
	t.Setenv("TRIBUTARY_LEARNERS_2_KEEP_VERSIONS", "0")
	c := mustLoad(t, minimal+`
learners:
  - {name: a, source: my-shop, table: public.t, target: y, features: {numeric: [x]}}
  - {name: b, source: my-shop, table: public.t, target: y, features: {numeric: [x]}, keep_versions: 0}
  - {name: c, source: my-shop, table: public.t, target: y, features: {numeric: [x]}, keep_versions: 7}
  - {name: d, source: my-shop, table: public.t, target: y, features: {numeric: [x]}, keep_versions: 3}
`)
	var got []int
	for _, l := range c.Learners {
		got = append(got, l.KeepVersions)
	}
	if want := []int{100, 0, 0, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("keep_versions = %v, want %v", got, want)
	}
	code := Config{Learners: []LearnerConfig{{Name: "a"}, {Name: "b", KeepVersions: 5}}}
	code.FillDefaults()
	if k0, k1 := code.Learners[0].KeepVersions, code.Learners[1].KeepVersions; k0 != DefaultKeepVersions || k1 != 5 {
		t.Errorf("FillDefaults: keep_versions %d, %d; want %d, 5", k0, k1, DefaultKeepVersions)
	}
}

func TestLearnerKeepVersionsProblems(t *testing.T) {
	ps := problemsOf(t, minimal+`
learners:
  - {name: a, source: my-shop, table: public.t, target: y, features: {numeric: [x]}, keep_versions: 2}
  - {name: b, source: my-shop, table: public.t, target: y, features: {numeric: [x]}, keep_versions: -1}
  - {name: c, source: my-shop, table: public.t, target: y, features: {numeric: [x]}, keep_versions: many}
`)
	var got []string
	for _, p := range ps {
		got = append(got, p.Field)
	}
	sort.Strings(got)
	if want := []string{"learners[1].keep_versions", "learners[2].keep_versions"}; !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%v\nwant fields %v", ps, want)
	}
	for _, p := range ps {
		if p.Field == "learners[1].keep_versions" && !strings.Contains(p.String(), ">= 0") {
			t.Errorf("problem %q does not say what is allowed", p.String())
		}
	}
}
