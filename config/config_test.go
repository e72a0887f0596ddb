package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// designExample is the config block of DESIGN.md, with its ${VAR}s.
const designExample = `
data_dir: ./data
log: {level: info, format: text}
admin: {listen: 127.0.0.1:7070}
sources:
  - name: shop
    type: postgres
    dsn: ${SHOP_DSN}
    tables: [public.customer_transactions]
    slot: tributary_shop
    publication: tributary_shop
    snapshot: initial
  - name: legacy
    type: mysql
    dsn: ${LEGACY_DSN}
    server_id: 4242
    tables: [shop.customer_transactions]
    snapshot: initial
sinks:
  - type: jetstream
    url: ""
    stream: TRIBUTARY
    subject_prefix: cdc
  - type: kafka
    brokers: [127.0.0.1:9092]
    topic_prefix: cdc
  - type: file
    path: ./changes.jsonl
learners:
  - name: amount
    source: shop
    table: public.customer_transactions
    target: amount
    features:
      numeric: [age]
      categorical: [gender, transaction_type, location, device]
      datetime: [txn_date]
    algorithm: sgd
    version_every: {events: 10000, interval: 30s}
`

// minimal is the smallest valid config: one source, one sink.
const minimal = `
sources:
  - name: my-shop
    type: postgres
    dsn: postgres://u:pw@localhost:5432/shop
    tables: [public.t]
sinks:
  - type: jetstream
`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, content string) (*Config, error) {
	t.Helper()
	return Load(writeFile(t, content))
}

func mustLoad(t *testing.T, content string) *Config {
	t.Helper()
	c, err := load(t, content)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// problemsOf loads content and returns its problems, failing unless Load
// reported Problems.
func problemsOf(t *testing.T, content string) Problems {
	t.Helper()
	c, err := load(t, content)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: got (%v, %v), want Problems", c, err)
	}
	if c != nil {
		t.Errorf("Load returned a config along with problems")
	}
	return ps
}

func fields(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Field
	}
	return out
}

func TestDesignExampleLoads(t *testing.T) {
	t.Setenv("SHOP_DSN", "postgres://tributary:secret@127.0.0.1:5432/shop?sslmode=disable")
	t.Setenv("LEGACY_DSN", "repl:secret@tcp(127.0.0.1:3306)/shop")
	c := mustLoad(t, designExample)
	if c.Sources[0].DSN != "postgres://tributary:secret@127.0.0.1:5432/shop?sslmode=disable" {
		t.Errorf("shop dsn = %q", c.Sources[0].DSN)
	}
	if c.Sources[1].ServerID != 4242 || c.Sources[1].Slot != "" {
		t.Errorf("legacy = %+v", c.Sources[1])
	}
	l, err := c.Learner("")
	if err != nil || l.Name != "amount" || len(l.Features.Categorical) != 4 {
		t.Fatalf("Learner(\"\") = %+v, %v", l, err)
	}
	if l.VersionEvery != (VersionEvery{Events: 10000, Interval: 30 * time.Second}) {
		t.Errorf("version_every = %+v", l.VersionEvery)
	}
}

func TestDefaults(t *testing.T) {
	d := Default()
	want := Config{DataDir: "./data", Log: LogConfig{Level: "info", Format: "text"}, Admin: AdminConfig{Listen: "127.0.0.1:7070"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Default() = %+v, want %+v", d, want)
	}

	c := mustLoad(t, minimal+`
  - type: kafka
    brokers: [k:9092]
learners:
  - name: m
    source: my-shop
    table: public.t
    target: y
    features: {numeric: [x]}
`)
	if c.DataDir != "./data" || c.Log != (LogConfig{"info", "text"}) || c.Admin.Listen != "127.0.0.1:7070" {
		t.Errorf("top-level defaults: %+v %+v %+v", c.DataDir, c.Log, c.Admin)
	}
	s := c.Sources[0]
	if s.Slot != "tributary_my_shop" || s.Publication != "tributary_my_shop" || s.Snapshot != "initial" {
		t.Errorf("source defaults: %+v", s)
	}
	js, ok := c.Sink("jetstream")
	if !ok {
		t.Fatal("no jetstream sink")
	}
	wantJS := SinkConfig{Type: "jetstream", Stream: "TRIBUTARY", SubjectPrefix: "cdc", Listen: "127.0.0.1:4222",
		DuplicateWindow: 5 * time.Second, MaxPending: 4096}
	if !reflect.DeepEqual(*js, wantJS) {
		t.Errorf("jetstream defaults = %+v, want %+v", *js, wantJS)
	}
	if k, _ := c.Sink("kafka"); k.TopicPrefix != "cdc" || k.Stream != "" {
		t.Errorf("kafka defaults = %+v", *k)
	}
	l := c.Learners[0]
	if l.Algorithm != "sgd" || l.VersionEvery != (VersionEvery{10000, 30 * time.Second}) {
		t.Errorf("learner defaults = %+v", l)
	}
}

func TestAdminListenEmptyDisables(t *testing.T) {
	if c := mustLoad(t, minimal+"admin: {listen: \"\"}\n"); c.Admin.Listen != "" {
		t.Errorf("explicit empty listen = %q, want empty", c.Admin.Listen)
	}
	if c := mustLoad(t, minimal+"admin: {}\n"); c.Admin.Listen != DefaultAdminListen {
		t.Errorf("absent listen = %q, want default", c.Admin.Listen)
	}
	if c := mustLoad(t, minimal+"admin:\n  listen:\n"); c.Admin.Listen != DefaultAdminListen {
		t.Errorf("null listen = %q, want default", c.Admin.Listen)
	}
}

func TestVersionEveryExplicitZeroKept(t *testing.T) {
	c := mustLoad(t, minimal+`
learners:
  - name: m
    source: my-shop
    table: public.t
    target: y
    features: {categorical: [x]}
    version_every: {events: 0, interval: 1m}
  - name: n
    source: my-shop
    table: public.t
    target: y
    features: {datetime: [x]}
    version_every: {events: 50}
`)
	if got := c.Learners[0].VersionEvery; got != (VersionEvery{0, time.Minute}) {
		t.Errorf("learners[0].version_every = %+v, want events 0 kept", got)
	}
	if got := c.Learners[1].VersionEvery; got != (VersionEvery{50, 30 * time.Second}) {
		t.Errorf("learners[1].version_every = %+v, want interval defaulted", got)
	}
}

func TestBadFiles(t *testing.T) {
	t.Setenv("TRIBUTARY_TEST_UNSET", "") // make sure nothing else leaks in
	os.Unsetenv("TRIBUTARY_TEST_UNSET")
	tests := []struct {
		name   string
		yaml   string
		fields []string
		// contains, if set, must appear in the problem on fields[0].
		contains string
	}{
		{
			name: "unknown key in a list item",
			yaml: `
sources:
  - name: shop
    type: postgres
    dsn: postgres://h/db
    tabels: [public.t]
sinks: [{type: file, path: x}]
`,
			fields:   []string{"sources[0].tables", "sources[0].tabels"},
			contains: "at least one table",
		},
		{
			name:     "unknown top-level key with suggestion",
			yaml:     "sink: [{type: file, path: x}]\n",
			fields:   []string{"sinks", "sink"},
			contains: "at least one sink",
		},
		{
			name: "tables has the wrong type",
			yaml: `
sources: [{name: shop, type: postgres, dsn: "host=h dbname=d", tables: 5}]
sinks: [{type: file, path: x}]
`,
			fields:   []string{"sources[0].tables"},
			contains: "expected a list of strings, got 5",
		},
		{
			name: "scalar types",
			yaml: `
data_dir: [a, b]
log: text
sources: [{name: l, type: mysql, dsn: "u:p@tcp(h:3306)/db", tables: [db.t], server_id: -1}]
sinks: [{type: jetstream, max_pending: lots, duplicate_window: 30}]
`,
			fields:   []string{"data_dir", "log", "sources[0].server_id", "sinks[0].duplicate_window", "sinks[0].max_pending"},
			contains: "expected a string, got a list of 2 items",
		},
		{
			name: "unset variable names field and variable",
			yaml: `
sources: [{name: shop, type: postgres, dsn: "${TRIBUTARY_TEST_UNSET}", tables: [public.t]}]
sinks: [{type: file, path: x}]
`,
			fields:   []string{"sources[0].dsn"},
			contains: "TRIBUTARY_TEST_UNSET is not set",
		},
		{
			name: "sources",
			yaml: `
sources:
  - {name: Shop!, type: postgres, dsn: "mysql://u:pw@h/db", tables: [customer], slot: "bad slot", publication: 1pub, snapshot: sometimes, server_id: 3}
  - {name: legacy, type: mysql, dsn: "u:pw@h:3306/db", tables: [a.b, a.b]}
  - {name: legacy, type: oracle, dsn: x, tables: [a.b]}
  - {type: postgres, tables: [a.b]}
sinks: [{type: file, path: x}]
`,
			fields: []string{
				"sources[0].name", "sources[0].dsn", "sources[0].tables[0]", "sources[0].slot",
				"sources[0].publication", "sources[0].snapshot", "sources[0].server_id",
				"sources[1].dsn", "sources[1].tables[1]", "sources[1].server_id",
				"sources[2].name", "sources[2].type",
				"sources[3].name", "sources[3].dsn",
			},
			contains: `"Shop!": want [a-z0-9_-]+`,
		},
		{
			name: "sinks",
			yaml: `
sinks:
  - {type: jetstream, stream: "MY STREAM", subject_prefix: "cdc.*", sync_interval: sometimes, path: x}
  - {type: kafka, topic_prefix: "a/b"}
  - {type: file}
  - {type: kafka, brokers: [nohost]}
  - {type: s3}
`,
			fields: []string{
				"sinks[0].stream", "sinks[0].subject_prefix", "sinks[0].sync_interval", "sinks[0].path",
				"sinks[1].brokers", "sinks[1].topic_prefix",
				"sinks[2].path",
				"sinks[3].type", "sinks[3].brokers[0]",
				"sinks[4].type",
			},
			contains: `"MY STREAM" is not a valid stream name`,
		},
		{
			name: "learners",
			yaml: `
sources: [{name: shop, type: postgres, dsn: "postgres://h/db", tables: [public.t]}]
sinks: [{type: file, path: x}]
learners:
  - {name: a, source: nope, table: public.t, target: y, features: {numeric: [x]}}
  - {name: a, source: shop, table: public.other, features: {}, algorithm: svm, version_every: {events: 0, interval: 0s}}
  - {name: c, source: shop, table: public.t, target: y, features: {numeric: [x, y], categorical: [x]}, version_every: {events: -1}}
`,
			fields: []string{
				"learners",
				"learners[0].source",
				"learners[1].name", "learners[1].table", "learners[1].target", "learners[1].features",
				"learners[1].algorithm", "learners[1].version_every",
				"learners[2].features.numeric[1]", "learners[2].features.categorical[0]",
				"learners[2].version_every.events",
			},
			contains: "add a jetstream sink",
		},
		{
			name: "log and admin",
			yaml: `
data_dir: ""
log: {level: verbose, format: xml}
admin: {listen: "localhost"}
sinks: [{type: file, path: "-"}]
`,
			fields:   []string{"log.level", "log.format", "admin.listen"},
			contains: `"verbose": want one of debug, info, warn, error`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.yaml)
			if got := fields(ps); !reflect.DeepEqual(got, tt.fields) {
				t.Fatalf("fields:\n got %q\nwant %q\nproblems:\n%v", got, tt.fields, ps)
			}
			if tt.contains != "" && !strings.Contains(ps[0].Message, tt.contains) {
				t.Errorf("problem %q does not contain %q", ps[0], tt.contains)
			}
		})
	}
}

func TestUnknownKeyMessage(t *testing.T) {
	ps := problemsOf(t, minimal+`
  - type: file
    pth: x
`)
	want := Problems{
		{"sinks[1].path", `required (a file path, or "-" for stdout)`},
		{"sinks[1].pth", `unknown key (did you mean "path"?)`},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("problems = %q, want %q", ps, want)
	}
	if got, want := ps.Error(), "sinks[1].path: required (a file path, or \"-\" for stdout)\nsinks[1].pth: unknown key (did you mean \"path\"?)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Setenv("TRIBUTARY_DATA_DIR", "/var/lib/tributary")
	t.Setenv("TRIBUTARY_LOG_LEVEL", "debug")
	t.Setenv("TRIBUTARY_ADMIN_LISTEN", "") // empty disables, as in the file
	t.Setenv("TRIBUTARY_SOURCES_0_DSN", "postgres://env:pw@db:5432/shop")
	t.Setenv("TRIBUTARY_SOURCES_0_TABLES_1", "public.added")
	t.Setenv("TRIBUTARY_SOURCES_1_NAME", "legacy")
	t.Setenv("TRIBUTARY_SOURCES_1_TYPE", "mysql")
	t.Setenv("TRIBUTARY_SOURCES_1_DSN", "u:p@tcp(m:3306)/shop")
	t.Setenv("TRIBUTARY_SOURCES_1_TABLES", "shop.a, shop.b")
	t.Setenv("TRIBUTARY_SOURCES_1_SERVER_ID", "77")
	t.Setenv("TRIBUTARY_SINKS_0_URL", "nats://n:4222")
	t.Setenv("TRIBUTARY_SINKS_0_DUPLICATE_WINDOW", "5m")
	t.Setenv("TRIBUTARY_SINKS_1_TYPE", "kafka")
	t.Setenv("TRIBUTARY_SINKS_1_BROKERS", "k1:9092,k2:9092")
	t.Setenv("TRIBUTARY_CONFIG", "/somewhere/else.yaml") // names the file, not a key
	t.Setenv("TRIBUTARY_NOT_A_KEY", "x")                 // ignored

	c := mustLoad(t, minimal)
	if c.DataDir != "/var/lib/tributary" || c.Log.Level != "debug" || c.Admin.Listen != "" {
		t.Errorf("top level: %q %q %q", c.DataDir, c.Log.Level, c.Admin.Listen)
	}
	if s := c.Sources[0]; s.DSN != "postgres://env:pw@db:5432/shop" || !reflect.DeepEqual(s.Tables, []string{"public.t", "public.added"}) {
		t.Errorf("sources[0] = %+v", s)
	}
	legacy, ok := c.Source("legacy")
	if !ok || legacy.ServerID != 77 || !reflect.DeepEqual(legacy.Tables, []string{"shop.a", "shop.b"}) {
		t.Errorf("legacy = %+v, %v", legacy, ok)
	}
	js, _ := c.Sink("jetstream")
	if js.URL != "nats://n:4222" || js.DuplicateWindow != 5*time.Minute || js.Listen != "" {
		t.Errorf("jetstream = %+v", js)
	}
	if k, ok := c.Sink("kafka"); !ok || !reflect.DeepEqual(k.Brokers, []string{"k1:9092", "k2:9092"}) {
		t.Errorf("kafka = %+v", k)
	}
}

func TestEnvOverrideProblemNamesVariable(t *testing.T) {
	t.Setenv("TRIBUTARY_LOG_LEVEL", "loud")
	t.Setenv("TRIBUTARY_SOURCES_0_SERVER_ID", "many")
	ps := problemsOf(t, minimal)
	want := Problems{
		{"log.level", `"loud": want one of debug, info, warn, error (set by TRIBUTARY_LOG_LEVEL)`},
		{"sources[0].server_id", `expected an integer from 0 to 4294967295, got "many" (set by TRIBUTARY_SOURCES_0_SERVER_ID)`},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("problems =\n%v\nwant\n%v", ps, want)
	}
}

func TestExpansion(t *testing.T) {
	t.Setenv("PG_PASS", "s3cret")
	t.Setenv("EMPTY", "")
	os.Unsetenv("TRIBUTARY_TEST_NOPE")
	c := mustLoad(t, `
data_dir: ${TRIBUTARY_TEST_NOPE:-/tmp/fallback}
log: {level: "${EMPTY:-warn}"}
sources:
  - name: shop
    type: postgres
    dsn: postgres://u:${PG_PASS}@h/db?application_name=$${literal}&x=$HOME
    tables: [public.t]
sinks: [{type: file, path: "${EMPTY}out.jsonl"}]
`)
	if c.DataDir != "/tmp/fallback" || c.Log.Level != "warn" {
		t.Errorf("defaults: data_dir %q, level %q", c.DataDir, c.Log.Level)
	}
	if want := "postgres://u:s3cret@h/db?application_name=${literal}&x=$HOME"; c.Sources[0].DSN != want {
		t.Errorf("dsn = %q, want %q", c.Sources[0].DSN, want)
	}
	if c.Sinks[0].Path != "out.jsonl" {
		t.Errorf("path = %q", c.Sinks[0].Path)
	}

	ps := problemsOf(t, `
sources: [{name: s, type: postgres, dsn: "postgres://${TRIBUTARY_TEST_NOPE}:${TRIBUTARY_TEST_NOPE2}@h/db", tables: ["${bad-name}"]}]
sinks: [{type: file, path: "${TRIBUTARY_TEST_NOPE"}]
`)
	want := Problems{
		{"sources[0].dsn", "environment variable TRIBUTARY_TEST_NOPE is not set (referenced as ${TRIBUTARY_TEST_NOPE})"},
		{"sources[0].dsn", "environment variable TRIBUTARY_TEST_NOPE2 is not set (referenced as ${TRIBUTARY_TEST_NOPE2})"},
		{"sources[0].tables[0]", "malformed reference ${bad-name}: want ${VAR} or ${VAR:-default}"},
		{"sinks[0].path", "unterminated ${ (write $${ for a literal ${)"},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("problems =\n%v\nwant\n%v", ps, want)
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h/db", "postgres://u:****@h/db"},
		{"postgresql://u:p@ss:w@h:5432/db?sslmode=disable", "postgresql://u:****@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db?sslmode=disable&password=pw", "postgres://u@h/db?sslmode=disable&password=****"},
		{"postgres://h/db", "postgres://h/db"},
		{"host=h user=u password=pw dbname=d", "host=h user=u password=**** dbname=d"},
		{"host=h password = 'p w\\' x' dbname=d", "host=h password = **** dbname=d"},
		{"password=pw host=h", "password=**** host=h"},
		{"host=h user=u", "host=h user=u"},
		{"u:pw@tcp(h:3306)/db", "u:****@tcp(h:3306)/db"},
		{"u:p@w:d@tcp(h:3306)/db?tls=true", "u:****@tcp(h:3306)/db?tls=true"},
		{"root@tcp(h:3306)/db", "root@tcp(h:3306)/db"},
		{"nats://a:pw1@n1:4222,nats://b:pw2@n2:4222", "nats://a:****@n1:4222,nats://b:****@n2:4222"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactedConfig(t *testing.T) {
	c := mustLoad(t, `
sources:
  - {name: a, type: postgres, dsn: "postgres://u:pw1@h/db", tables: [public.t]}
  - {name: b, type: postgres, dsn: "host=h password=pw2 dbname=d", tables: [public.t]}
  - {name: c, type: mysql, dsn: "u:pw3@tcp(h:3306)/db", server_id: 1, tables: [db.t]}
sinks: [{type: jetstream, url: "nats://u:pw4@n:4222"}]
`)
	r := c.Redacted()
	wantDSNs := []string{"postgres://u:****@h/db", "host=h password=**** dbname=d", "u:****@tcp(h:3306)/db"}
	for i, want := range wantDSNs {
		if r.Sources[i].DSN != want {
			t.Errorf("redacted sources[%d].dsn = %q, want %q", i, r.Sources[i].DSN, want)
		}
	}
	if r.Sinks[0].URL != "nats://u:****@n:4222" {
		t.Errorf("redacted url = %q", r.Sinks[0].URL)
	}
	if c.Sources[0].DSN != "postgres://u:pw1@h/db" || c.Sinks[0].URL != "nats://u:pw4@n:4222" {
		t.Error("Redacted changed the original")
	}
	r.Sources[0].Tables[0] = "changed"
	if c.Sources[0].Tables[0] != "public.t" {
		t.Error("Redacted shares slices with the original")
	}
}

func TestBadDSNProblemHidesPassword(t *testing.T) {
	ps := problemsOf(t, `
sources:
  - {name: a, type: postgres, dsn: "postgres://u:hunter2@h:notaport/db", tables: [public.t]}
  - {name: b, type: postgres, dsn: "host=h password='hunter2", tables: [public.t]}
  - {name: c, type: mysql, dsn: "u:hunter2@tcp(h:3306/db", server_id: 1, tables: [db.t]}
sinks: [{type: file, path: x}]
`)
	if got := fields(ps); !reflect.DeepEqual(got, []string{"sources[0].dsn", "sources[1].dsn", "sources[2].dsn"}) {
		t.Fatalf("fields = %q\n%v", got, ps)
	}
	if strings.Contains(ps.Error(), "hunter2") {
		t.Errorf("problems leak the password:\n%v", ps)
	}
}

func TestParseMySQLDSN(t *testing.T) {
	d, err := ParseMySQLDSN("repl:p@ss/w:rd@tcp(db.local:3307)/shop?tls=skip-verify&charset=utf8mb4")
	if err != nil {
		t.Fatal(err)
	}
	if d.User != "repl" || d.Password != "p@ss/w:rd" || d.Net != "tcp" || d.Addr != "db.local:3307" || d.DBName != "shop" || d.Params.Get("tls") != "skip-verify" {
		t.Errorf("parsed %+v", d)
	}
	for in, addr := range map[string]string{"u@/db": "127.0.0.1:3306", "u@tcp(h)/": "h:3306", "u:p@unix(/run/mysqld.sock)/db": "/run/mysqld.sock"} {
		d, err := ParseMySQLDSN(in)
		if err != nil || d.Addr != addr {
			t.Errorf("ParseMySQLDSN(%q) = %+v, %v; want addr %s", in, d, err, addr)
		}
	}
	for _, bad := range []string{"u:p@tcp(h:3306)", "u:p@tcp(h:3306/db", ":p@tcp(h:3306)/db", "u@udp(h:1)/db", "u@tcp(h:99999)/db"} {
		if _, err := ParseMySQLDSN(bad); err == nil {
			t.Errorf("ParseMySQLDSN(%q) accepted", bad)
		}
	}
}

func TestLookups(t *testing.T) {
	c := Default()
	c.Sources = []SourceConfig{{Name: "a"}, {Name: "b"}}
	c.Sinks = []SinkConfig{{Type: "file"}, {Type: "jetstream"}}
	if s, ok := c.Source("b"); !ok || s != &c.Sources[1] {
		t.Errorf("Source(b) = %p, %v", s, ok)
	}
	if _, ok := c.Source("z"); ok {
		t.Error("Source(z) found")
	}
	if k, ok := c.Sink("jetstream"); !ok || k != &c.Sinks[1] {
		t.Errorf("Sink(jetstream) = %p, %v", k, ok)
	}
	if _, ok := c.Sink("kafka"); ok {
		t.Error("Sink(kafka) found")
	}
	if _, err := c.Learner(""); err == nil || err.Error() != "no learners configured" {
		t.Errorf("Learner(\"\") with none: %v", err)
	}
	c.Learners = []LearnerConfig{{Name: "x"}}
	if l, err := c.Learner(""); err != nil || l.Name != "x" {
		t.Errorf("Learner(\"\") with one: %v, %v", l, err)
	}
	c.Learners = append(c.Learners, LearnerConfig{Name: "y"})
	if _, err := c.Learner(""); err == nil || !strings.Contains(err.Error(), "(x, y)") {
		t.Errorf("Learner(\"\") with two: %v", err)
	}
	if l, err := c.Learner("y"); err != nil || l != &c.Learners[1] {
		t.Errorf("Learner(y) = %v, %v", l, err)
	}
	if _, err := c.Learner("z"); err == nil || err.Error() != `no learner "z" (configured: x, y)` {
		t.Errorf("Learner(z): %v", err)
	}
}

func TestResolvePath(t *testing.T) {
	t.Setenv("TRIBUTARY_CONFIG", "")
	if got := ResolvePath(""); got != "./tributary.yaml" {
		t.Errorf("default = %q", got)
	}
	t.Setenv("TRIBUTARY_CONFIG", "/etc/tributary.yaml")
	if got := ResolvePath(""); got != "/etc/tributary.yaml" {
		t.Errorf("env = %q", got)
	}
	if got := ResolvePath("my.yaml"); got != "my.yaml" {
		t.Errorf("flag = %q", got)
	}
}

func TestBuiltInCode(t *testing.T) {
	c := Default()
	c.Sources = []SourceConfig{{Name: "s-1", Type: "postgres", DSN: "postgres://h/db", Tables: []string{"public.t"}}}
	c.Sinks = []SinkConfig{{Type: "jetstream"}}
	c.Learners = []LearnerConfig{{Name: "l", Source: "s-1", Table: "public.t", Target: "y", Features: FeatureConfig{Numeric: []string{"x"}}}}
	var ps Problems
	if err := c.Validate(); !errors.As(err, &ps) || len(ps) < 5 {
		t.Errorf("Validate before FillDefaults = %v, want slot, publication, snapshot, stream... problems", err)
	}
	c.FillDefaults()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after FillDefaults: %v", err)
	}
	if c.Sources[0].Slot != "tributary_s_1" || c.Learners[0].VersionEvery.Events != 10000 {
		t.Errorf("FillDefaults: %+v %+v", c.Sources[0], c.Learners[0].VersionEvery)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	var ps Problems
	if err == nil || errors.As(err, &ps) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	_, err = load(t, "sources: [\n")
	if err == nil || errors.As(err, &ps) {
		t.Errorf("bad YAML: %v", err)
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "E": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		"x${A}y":       "x1y",
		"${E:-d}":      "d",
		"${A:-d}":      "1",
		"${NO:-}":      "",
		"$${A}":        "${A}",
		"$A ${A}":      "$A 1",
		"no refs":      "no refs",
		"${A}${A}$${}": "11${}",
	} {
		if got, err := Expand(in, lookup); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Expand("${NO}", lookup); err == nil || !strings.Contains(err.Error(), "NO is not set") {
		t.Errorf("Expand(${NO}) error = %v", err)
	}
}

func TestProblemOrder(t *testing.T) {
	ps := Problems{
		{"learners[0].name", "x"}, {"sinks[10].type", "x"}, {"sinks[2].zzz", "x"}, {"sinks[2].type", "x"},
		{"sources[0].tables[1]", "x"}, {"sources[0].tables", "x"}, {"sources[0].name", "x"}, {"data_dir", "x"}, {"sinks", "x"},
	}
	sortProblems(ps)
	want := []string{"data_dir", "sources[0].name", "sources[0].tables", "sources[0].tables[1]", "sinks", "sinks[2].type", "sinks[2].zzz", "sinks[10].type", "learners[0].name"}
	if got := fields(ps); !reflect.DeepEqual(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestEnvOverrideReplacesWrongShape(t *testing.T) {
	t.Setenv("TRIBUTARY_SOURCES_0_NAME", "s")
	t.Setenv("TRIBUTARY_SOURCES_0_TYPE", "postgres")
	t.Setenv("TRIBUTARY_SOURCES_0_DSN", "host=h")
	t.Setenv("TRIBUTARY_SOURCES_0_TABLES_0", "public.t")
	t.Setenv("TRIBUTARY_LOG_FORMAT", "json")
	c := mustLoad(t, "sources: 5\nlog: text\nsinks: [{type: file, path: x}]\n")
	if len(c.Sources) != 1 || c.Sources[0].Tables[0] != "public.t" || c.Log.Format != "json" || c.Log.Level != "info" {
		t.Errorf("config = %+v", c)
	}
}

func TestReservedSourceNames(t *testing.T) {
	c := Default()
	c.Sources = []SourceConfig{{Name: "predictions", Type: TypePostgres, DSN: "postgres://u@h/db", Tables: []string{"public.t"}}}
	c.Sinks = []SinkConfig{{Type: SinkJetStream}}
	c.FillDefaults()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `sources[0].name: "predictions" is reserved`) {
		t.Fatalf("Validate = %v, want the reserved-name problem", err)
	}
}
