package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/config"
)

// runConfigCheck runs `tributary config check --config <file> args...` in
// process and returns stdout, stderr and the error.
func runConfigCheck(t *testing.T, content string, args ...string) (string, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetArgs(append([]string{"config", "check", "--config", path}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.Execute()
	return stdout.String(), stderr.String(), err
}

const checkValid = `
admin: {listen: ""}
sources:
  - name: shop
    type: postgres
    dsn: postgres://tributary:hunter2@db:5432/shop
    tables: [public.customer_transactions]
  - name: legacy
    type: mysql
    dsn: ${LEGACY_DSN}
    server_id: 4242
    tables: [shop.customer_transactions]
sinks:
  - type: jetstream
learners:
  - name: amount
    source: shop
    table: public.customer_transactions
    target: amount
    features: {numeric: [age], categorical: [gender]}
`

func TestConfigCheckValidYAML(t *testing.T) {
	t.Setenv("LEGACY_DSN", "repl:hunter3@tcp(127.0.0.1:3306)/shop")
	stdout, stderr, err := runConfigCheck(t, checkValid)
	if err != nil || stderr != "" {
		t.Fatalf("err = %v, stderr = %q", err, stderr)
	}
	for _, want := range []string{
		"data_dir: ./data\n",
		"admin:\n  listen: \"\"\n",
		"    dsn: postgres://tributary:****@db:5432/shop\n",
		"    dsn: repl:****@tcp(127.0.0.1:3306)/shop\n",
		"    tables: [public.customer_transactions]\n",
		"    slot: tributary_shop\n",
		"    duplicate_window: 5s\n",
		"    version_every:\n      events: 10000\n      interval: 30s\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "hunter") {
		t.Errorf("output leaks a password:\n%s", stdout)
	}
	if i, j := strings.Index(stdout, "data_dir:"), strings.Index(stdout, "learners:"); i != 0 || j < i {
		t.Errorf("keys out of the documented order:\n%s", stdout)
	}
}

func TestConfigCheckValidJSON(t *testing.T) {
	t.Setenv("LEGACY_DSN", "repl:hunter3@tcp(127.0.0.1:3306)/shop")
	stdout, _, err := runConfigCheck(t, checkValid, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		DataDir string `json:"data_dir"`
		Admin   struct {
			Listen *string `json:"listen"`
		} `json:"admin"`
		Sources []struct {
			DSN string `json:"dsn"`
		} `json:"sources"`
		Sinks []struct {
			DuplicateWindow string `json:"duplicate_window"`
			MaxPending      int    `json:"max_pending"`
		} `json:"sinks"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if got.DataDir != "./data" || got.Admin.Listen == nil || *got.Admin.Listen != "" {
		t.Errorf("data_dir %q, admin.listen %v", got.DataDir, got.Admin.Listen)
	}
	if len(got.Sources) != 2 || got.Sources[0].DSN != "postgres://tributary:****@db:5432/shop" || got.Sources[1].DSN != "repl:****@tcp(127.0.0.1:3306)/shop" {
		t.Errorf("sources = %+v", got.Sources)
	}
	if got.Sinks[0].DuplicateWindow != "5s" || got.Sinks[0].MaxPending != 4096 {
		t.Errorf("sinks = %+v", got.Sinks)
	}
	if !strings.HasPrefix(stdout, "{\n  \"data_dir\"") {
		t.Errorf("JSON not in documented order:\n%s", stdout)
	}
}

func TestConfigCheckInvalid(t *testing.T) {
	os.Unsetenv("LEGACY_DSN")
	bad := strings.Replace(checkValid, "tables: [public.customer_transactions]", "tabels: [public.customer_transactions]", 1)
	bad = strings.Replace(bad, "type: jetstream", "type: jetstream\n    stream: a.b", 1)
	stdout, stderr, err := runConfigCheck(t, bad, "--json")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	want := strings.Join([]string{
		"sources[0].tables: at least one table is required",
		`sources[0].tabels: unknown key (did you mean "tables"?)`,
		"sources[1].dsn: environment variable LEGACY_DSN is not set (referenced as ${LEGACY_DSN})",
		`sinks[0].stream: "a.b" is not a valid stream name: no spaces, '.', '*', '>', '/' or '\'`,
		"",
	}, "\n")
	if stderr != want {
		t.Errorf("stderr =\n%s\nwant\n%s", stderr, want)
	}
}

func TestConfigCheckMissingFile(t *testing.T) {
	root := newRootCmd()
	root.SetArgs([]string{"config", "check", "--config", filepath.Join(t.TempDir(), "nope.yaml")})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("err = %v, want a read error naming the file", err)
	}
}

// TestConfigCheckOutputLoads checks that the printed effective config is
// itself a config that loads to the same values.
func TestConfigCheckOutputLoads(t *testing.T) {
	t.Setenv("LEGACY_DSN", "repl:hunter3@tcp(127.0.0.1:3306)/shop")
	stdout, _, err := runConfigCheck(t, checkValid)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.yaml")
	printed := filepath.Join(dir, "printed.yaml")
	if err := os.WriteFile(orig, []byte(checkValid), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(printed, []byte(stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := config.Load(orig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(printed)
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, stdout)
	}
	if w := want.Redacted(); !reflect.DeepEqual(*got, w) {
		t.Errorf("printed config loads as\n%+v\nwant\n%+v", *got, w)
	}
}
