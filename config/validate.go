package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	namePattern        = regexp.MustCompile(`^[a-z0-9_-]+$`)
	slotPattern        = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	publicationPattern = regexp.MustCompile(`^[a-z_][a-z0-9_$]{0,62}$`)
	tablePattern       = regexp.MustCompile(`^[^.\s]+\.[^.\s]+$`)
	topicPattern       = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// Validate checks c, whose defaults are expected to be filled in (Load does
// it; see FillDefaults), and returns Problems listing everything wrong, or
// nil.
func (c *Config) Validate() error {
	var ps Problems
	if c.DataDir == "" {
		ps.add("data_dir", "required")
	}
	oneOf(&ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&ps, "log.format", c.Log.Format, "text", "json")
	if c.Admin.Listen != "" {
		if err := checkHostPort(c.Admin.Listen); err != nil {
			ps.add("admin.listen", err.Error()+` (or "" to disable the admin server)`)
		}
	}
	c.validateSources(&ps)
	c.validateSinks(&ps)
	c.validateLearners(&ps)
	return ps.err()
}

func (c *Config) validateSources(ps *Problems) {
	seen := map[string]string{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		checkName(ps, p+".name", s.Name, seen)
		if s.Name == "predictions" || s.Name == "aggregates" {
			ps.add(p+".name", fmt.Sprintf("%q is reserved: learners publish to <subject_prefix>.%s.<learner>", s.Name, s.Name))
		}
		oneOf(ps, p+".type", s.Type, TypePostgres, TypeMySQL)
		switch {
		case s.DSN == "":
			ps.add(p+".dsn", "required")
		case s.Type == TypePostgres:
			if err := checkPostgresDSN(s.DSN); err != nil {
				ps.add(p+".dsn", err.Error())
			}
		case s.Type == TypeMySQL:
			if _, err := ParseMySQLDSN(s.DSN); err != nil {
				ps.add(p+".dsn", "bad mysql DSN: "+err.Error())
			}
		}
		if len(s.Tables) == 0 {
			ps.add(p+".tables", "at least one table is required")
		}
		form := "schema.table"
		if s.Type == TypeMySQL {
			form = "db.table"
		}
		tables := map[string]bool{}
		for j, t := range s.Tables {
			tp := fmt.Sprintf("%s.tables[%d]", p, j)
			switch {
			case !tablePattern.MatchString(t):
				ps.add(tp, fmt.Sprintf("%q is not %s", t, form))
			case tables[t]:
				ps.add(tp, fmt.Sprintf("%s is listed twice", t))
			}
			tables[t] = true
		}
		oneOf(ps, p+".snapshot", s.Snapshot, SnapshotInitial, SnapshotNever)
		switch s.Type {
		case TypePostgres:
			// Without a name there is no default to complain about.
			switch {
			case s.Slot == "" && s.Name != "":
				ps.add(p+".slot", "required")
			case s.Slot != "" && !slotPattern.MatchString(s.Slot):
				ps.add(p+".slot", fmt.Sprintf("%q is not a valid slot name: want 1-63 of [a-z0-9_]", s.Slot))
			}
			switch {
			case s.Publication == "" && s.Name != "":
				ps.add(p+".publication", "required")
			case s.Publication != "" && !publicationPattern.MatchString(s.Publication):
				ps.add(p+".publication", fmt.Sprintf("%q is not a valid publication name: want [a-z_] then up to 62 of [a-z0-9_$]", s.Publication))
			}
			if s.ServerID != 0 {
				ps.add(p+".server_id", "only applies to mysql sources")
			}
		case TypeMySQL:
			if s.ServerID == 0 {
				ps.add(p+".server_id", "required for mysql sources: a number > 0, unique among the server's replicas")
			}
			if s.Slot != "" {
				ps.add(p+".slot", "only applies to postgres sources")
			}
			if s.Publication != "" {
				ps.add(p+".publication", "only applies to postgres sources")
			}
		}
	}
}

// sinkField is a type-specific sink key, for "only applies to" checks.
type sinkField struct {
	key   string
	owner string
	set   func(*SinkConfig) bool
}

var sinkFields = []sinkField{
	{"url", SinkJetStream, func(k *SinkConfig) bool { return k.URL != "" }},
	{"stream", SinkJetStream, func(k *SinkConfig) bool { return k.Stream != "" }},
	{"subject_prefix", SinkJetStream, func(k *SinkConfig) bool { return k.SubjectPrefix != "" }},
	{"listen", SinkJetStream, func(k *SinkConfig) bool { return k.Listen != "" }},
	{"sync_interval", SinkJetStream, func(k *SinkConfig) bool { return k.SyncInterval != "" }},
	{"duplicate_window", SinkJetStream, func(k *SinkConfig) bool { return k.DuplicateWindow != 0 }},
	{"max_pending", SinkJetStream, func(k *SinkConfig) bool { return k.MaxPending != 0 }},
	{"brokers", SinkKafka, func(k *SinkConfig) bool { return len(k.Brokers) > 0 }},
	{"topic_prefix", SinkKafka, func(k *SinkConfig) bool { return k.TopicPrefix != "" }},
	{"path", SinkFile, func(k *SinkConfig) bool { return k.Path != "" }},
}

func (c *Config) validateSinks(ps *Problems) {
	if len(c.Sinks) == 0 {
		ps.add("sinks", "at least one sink is required (jetstream, kafka or file)")
	}
	seen := map[string]int{}
	for i := range c.Sinks {
		k := &c.Sinks[i]
		p := fmt.Sprintf("sinks[%d]", i)
		if !oneOf(ps, p+".type", k.Type, SinkJetStream, SinkKafka, SinkFile) {
			continue
		}
		if j, dup := seen[k.Type]; dup {
			ps.add(p+".type", fmt.Sprintf("a second %s sink (sinks[%d] is one): one sink per type", k.Type, j))
		} else {
			seen[k.Type] = i
		}
		for _, f := range sinkFields {
			if f.owner != k.Type && f.set(k) {
				ps.add(p+"."+f.key, "only applies to "+f.owner+" sinks")
			}
		}
		switch k.Type {
		case SinkJetStream:
			validateJetStream(ps, p, k)
		case SinkKafka:
			if len(k.Brokers) == 0 {
				ps.add(p+".brokers", "at least one broker (host:port) is required")
			}
			for j, b := range k.Brokers {
				if err := checkHostPort(b); err != nil {
					ps.add(fmt.Sprintf("%s.brokers[%d]", p, j), err.Error())
				}
			}
			if !topicPattern.MatchString(k.TopicPrefix) {
				ps.add(p+".topic_prefix", fmt.Sprintf("%q is not a valid topic prefix: want [A-Za-z0-9._-]+", k.TopicPrefix))
			}
		case SinkFile:
			if k.Path == "" {
				ps.add(p+".path", `required (a file path, or "-" for stdout)`)
			}
		}
	}
}

func validateJetStream(ps *Problems, p string, k *SinkConfig) {
	if k.Stream == "" || strings.ContainsAny(k.Stream, " \t\r\n.*>/\\") {
		ps.add(p+".stream", fmt.Sprintf("%q is not a valid stream name: no spaces, '.', '*', '>', '/' or '\\'", k.Stream))
	}
	if err := checkSubjectPrefix(k.SubjectPrefix); err != nil {
		ps.add(p+".subject_prefix", err.Error())
	}
	if k.URL != "" {
		for _, u := range strings.Split(k.URL, ",") {
			if strings.TrimSpace(u) == "" || strings.ContainsAny(strings.TrimSpace(u), " \t\r\n") {
				ps.add(p+".url", `want a NATS URL or comma-separated URLs (nats://host:4222), or "" for an embedded server`)
				break
			}
		}
	} else if err := checkHostPort(k.Listen); err != nil {
		ps.add(p+".listen", err.Error())
	}
	switch k.SyncInterval {
	case "", "always":
	default:
		if d, err := time.ParseDuration(k.SyncInterval); err != nil || d <= 0 {
			ps.add(p+".sync_interval", fmt.Sprintf(`%q: want "always", a positive duration such as 1s, or "" for the server default`, k.SyncInterval))
		}
	}
	if k.DuplicateWindow < 0 {
		ps.add(p+".duplicate_window", "must not be negative")
	}
	if k.MaxPending < 1 {
		ps.add(p+".max_pending", "must be at least 1")
	}
}

// checkSubjectPrefix checks a NATS subject prefix: dot-separated non-empty
// tokens without whitespace or wildcards.
func checkSubjectPrefix(s string) error {
	if s == "" {
		return errors.New("required")
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("%q is not a valid subject prefix: want dot-separated tokens without spaces, '*' or '>'", s)
		}
	}
	return nil
}

func (c *Config) validateLearners(ps *Problems) {
	seen := map[string]string{}
	for i, l := range c.Learners {
		p := fmt.Sprintf("learners[%d]", i)
		checkName(ps, p+".name", l.Name, seen)
		src, ok := c.Source(l.Source)
		switch {
		case l.Source == "":
			ps.add(p+".source", "required")
		case !ok:
			ps.add(p+".source", fmt.Sprintf("no source named %q (configured: %s)", l.Source, c.sourceNames()))
		}
		switch {
		case l.Table == "":
			ps.add(p+".table", "required")
		case ok && len(src.Tables) > 0 && !contains(src.Tables, l.Table):
			ps.add(p+".table", fmt.Sprintf("%s is not one of source %s's tables (%s)", l.Table, src.Name, strings.Join(src.Tables, ", ")))
		}
		if l.Target == "" {
			ps.add(p+".target", "required")
		}
		f := l.Features
		if len(f.Numeric)+len(f.Categorical)+len(f.Datetime) == 0 {
			ps.add(p+".features", "at least one feature (numeric, categorical or datetime) is required")
		}
		cols := map[string]string{}
		for _, kind := range []struct {
			key  string
			cols []string
		}{{"numeric", f.Numeric}, {"categorical", f.Categorical}, {"datetime", f.Datetime}} {
			for j, col := range kind.cols {
				fp := fmt.Sprintf("%s.features.%s[%d]", p, kind.key, j)
				switch {
				case col == "":
					ps.add(fp, "empty column name")
				case col == l.Target:
					ps.add(fp, fmt.Sprintf("%s is the target", col))
				case cols[col] != "":
					ps.add(fp, fmt.Sprintf("%s is already a feature (%s)", col, cols[col]))
				default:
					cols[col] = fp
				}
			}
		}
		oneOf(ps, p+".algorithm", l.Algorithm, AlgorithmSGD, AlgorithmRidge)
		ve := l.VersionEvery
		if ve.Events < 0 {
			ps.add(p+".version_every.events", "must not be negative")
		}
		if ve.Interval < 0 {
			ps.add(p+".version_every.interval", "must not be negative")
		}
		if ve.Events == 0 && ve.Interval == 0 {
			ps.add(p+".version_every", "events and interval are both 0: a learner would never save a version")
		}
		if l.KeepVersions < 0 {
			ps.add(p+".keep_versions", fmt.Sprintf("%d: want a number >= 0 (0 keeps every version)", l.KeepVersions))
		}
		validateLearnerTuning(ps, p, &l, cols)
	}
	if len(c.Learners) > 0 {
		if _, ok := c.Sink(SinkJetStream); !ok {
			ps.add("learners", "learners consume JetStream: add a jetstream sink")
		}
	}
}

// checkName checks a source or learner name and its uniqueness; seen maps
// names to the field that used them first.
func checkName(ps *Problems, field, name string, seen map[string]string) {
	switch {
	case name == "":
		ps.add(field, "required")
	case !namePattern.MatchString(name):
		ps.add(field, fmt.Sprintf("%q: want [a-z0-9_-]+", name))
	case seen[name] != "":
		ps.add(field, fmt.Sprintf("duplicate name %q (also %s)", name, seen[name]))
	default:
		seen[name] = field
	}
}

// oneOf adds a problem unless value is one of allowed, and reports whether
// it was.
func oneOf(ps *Problems, field, value string, allowed ...string) bool {
	if contains(allowed, value) {
		return true
	}
	want := strings.Join(allowed, ", ")
	if value == "" {
		ps.add(field, "required: one of "+want)
	} else {
		ps.add(field, fmt.Sprintf("%q: want one of %s", value, want))
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkHostPort checks a host:port address (the host may be empty).
func checkHostPort(addr string) error {
	if addr == "" {
		return errors.New("required: host:port")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

// validateLearnerTuning checks the learner's hyperparameters, outputs and
// warm start; cols maps the feature columns to their fields.
func validateLearnerTuning(ps *Problems, p string, l *LearnerConfig, cols map[string]string) {
	if l.Algorithm == AlgorithmSGD && !(l.LearningRate > 0 && l.LearningRate <= 100) {
		ps.add(p+".learning_rate", fmt.Sprintf("%v: want a number > 0 and <= 100", l.LearningRate))
	}
	switch {
	case math.IsNaN(l.L2) || math.IsInf(l.L2, 0) || l.L2 < 0:
		ps.add(p+".l2", fmt.Sprintf("%v: want a number >= 0", l.L2))
	case l.Algorithm == AlgorithmRidge && l.L2 == 0:
		ps.add(p+".l2", "must be > 0 for ridge: one-hot levels and the intercept are collinear without it")
	}
	if l.RollingWindow < 1 || l.RollingWindow > 10_000_000 {
		ps.add(p+".rolling_window", fmt.Sprintf("%d: want 1 to 10000000", l.RollingWindow))
	}
	for j, k := range l.Key {
		if k == "" {
			ps.add(fmt.Sprintf("%s.key[%d]", p, j), "empty column name")
		}
	}
	if l.WarmStart != "" {
		if st, err := os.Stat(l.WarmStart); err != nil {
			ps.add(p+".warm_start", fmt.Sprintf("cannot read model file: %v", err))
		} else if st.IsDir() {
			ps.add(p+".warm_start", fmt.Sprintf("%s is a directory, want a model file from `tributary batch train`", l.WarmStart))
		}
	}
	a := l.Aggregates
	seen := map[string]bool{}
	for j, k := range a.Keys {
		kp := fmt.Sprintf("%s.aggregates.keys[%d]", p, j)
		switch {
		case k == "":
			ps.add(kp, "empty column name")
		case k == l.Target:
			ps.add(kp, fmt.Sprintf("%s is the target: averaging it per itself says nothing", k))
		case seen[k]:
			ps.add(kp, fmt.Sprintf("%s is listed twice", k))
		}
		seen[k] = true
	}
	switch {
	case a.Window < 0:
		ps.add(p+".aggregates.window", "must not be negative")
	case len(a.Keys) > 0 && a.Window == 0:
		ps.add(p+".aggregates.window", "required when aggregates.keys is set: a duration such as 5m")
	case len(a.Keys) == 0 && a.Window != 0:
		ps.add(p+".aggregates.keys", "required when aggregates.window is set: the columns to average per (for example [customer_id, location])")
	}
}
