package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// RedactMask is the text that replaces a password.
const RedactMask = "****"

// MySQLDSN is a MySQL DSN in the go-sql-driver form
// [user[:password]@][net[(addr)]]/[dbname][?param=value&...].
type MySQLDSN struct {
	User     string
	Password string
	Net      string // tcp (the default) or unix
	Addr     string // host:port for tcp (default 127.0.0.1:3306, port default 3306), a socket path for unix
	DBName   string
	Params   url.Values
}

// ParseMySQLDSN parses a DSN like user:pass@tcp(host:port)/db. Like
// go-sql-driver/mysql it splits the database name at the last '/' and the
// user information at the last '@', so a password may hold '@', ':' or '/'.
// Errors never contain the password.
func ParseMySQLDSN(dsn string) (MySQLDSN, error) {
	var d MySQLDSN
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return d, errors.New("missing /dbname (want user:pass@tcp(host:port)/db)")
	}
	head, tail := dsn[:slash], dsn[slash+1:]
	if at := strings.LastIndexByte(head, '@'); at >= 0 {
		userinfo := head[:at]
		head = head[at+1:]
		d.User, d.Password, _ = strings.Cut(userinfo, ":")
	}
	if open := strings.IndexByte(head, '('); open >= 0 {
		if !strings.HasSuffix(head, ")") {
			return d, errors.New("network address not terminated (missing closing parenthesis)")
		}
		d.Net, d.Addr = head[:open], head[open+1:len(head)-1]
	} else {
		d.Net = head
	}
	db, query, _ := strings.Cut(tail, "?")
	d.DBName = db
	params, err := url.ParseQuery(query)
	if err != nil {
		return d, fmt.Errorf("bad parameters after '?': %w", err)
	}
	d.Params = params
	if d.User == "" {
		return d, errors.New("missing user (want user:pass@tcp(host:port)/db)")
	}
	switch d.Net {
	case "", "tcp":
		d.Net = "tcp"
		if d.Addr == "" {
			d.Addr = "127.0.0.1:3306"
		}
		if _, _, err := net.SplitHostPort(d.Addr); err != nil {
			d.Addr = net.JoinHostPort(d.Addr, "3306")
		}
		if err := checkHostPort(d.Addr); err != nil {
			return d, fmt.Errorf("bad tcp address: %w", err)
		}
	case "unix":
		if d.Addr == "" {
			return d, errors.New("unix() needs a socket path")
		}
	default:
		return d, fmt.Errorf("unsupported network %q: want tcp(host:port) or unix(/socket/path)", d.Net)
	}
	return d, nil
}

// checkPostgresDSN reports whether dsn is a postgres URL or a key=value
// connection string. Errors never contain the password.
func checkPostgresDSN(dsn string) error {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the URL, password included
			}
			return fmt.Errorf("bad postgres URL: %v", err)
		}
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return fmt.Errorf("bad postgres URL parameters: %v", err)
		}
		return nil
	}
	if strings.Contains(dsn, "://") {
		return errors.New("a URL DSN must start with postgres:// or postgresql://")
	}
	if !kvStart.MatchString(dsn) {
		return errors.New("want a postgres URL (postgres://user:pass@host:port/db) or key=value pairs (host=... user=... dbname=...)")
	}
	return checkKeyValue(dsn)
}

var kvStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)

// checkKeyValue checks libpq key=value syntax: keys, '=', values either
// bare (no spaces) or single-quoted with \' and \\ escapes.
func checkKeyValue(s string) error {
	i, n := 0, len(s)
	skip := func() {
		for i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		if i == n {
			return nil
		}
		start := i
		for i < n && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		key := s[start:i]
		if key == "" {
			return fmt.Errorf("bad key=value DSN: expected a key at offset %d", start)
		}
		skip()
		if i == n || s[i] != '=' {
			return fmt.Errorf("bad key=value DSN: missing '=' after %q", key)
		}
		i++
		skip()
		if i < n && s[i] == '\'' {
			i++
			for i < n && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= n {
				return fmt.Errorf("bad key=value DSN: unterminated quoted value for %q", key)
			}
			i++
			continue
		}
		for i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			i++
		}
	}
}

var (
	// urlPassword matches scheme://user:password@ up to the last '@' of the
	// authority.
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^/?#\s]*@`)
	// queryPassword matches a password=... URL parameter.
	queryPassword = regexp.MustCompile(`(?i)([?&]password=)[^&#\s]*`)
	// kvPassword matches password=... in a key=value DSN, quoted or bare.
	kvPassword = regexp.MustCompile(`(?i)(^|\s)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)`)
)

// RedactDSN returns dsn with its passwords replaced by "****". It knows the
// URL form (postgres://u:pw@h/db, nats://u:pw@h, password=... parameters,
// several comma-separated URLs), the key=value form (password=pw or
// password='p w') and the go-sql-driver form (u:pw@tcp(h:3306)/db).
func RedactDSN(dsn string) string {
	switch {
	case strings.Contains(dsn, "://"):
		dsn = urlPassword.ReplaceAllString(dsn, "${1}"+RedactMask+"@")
		return queryPassword.ReplaceAllString(dsn, "${1}"+RedactMask)
	case kvStart.MatchString(dsn):
		return kvPassword.ReplaceAllString(dsn, "${1}${2}"+RedactMask)
	}
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		slash = len(dsn)
	}
	at := strings.LastIndexByte(dsn[:slash], '@')
	if at < 0 {
		return dsn
	}
	colon := strings.IndexByte(dsn[:at], ':')
	if colon < 0 {
		return dsn
	}
	return dsn[:colon+1] + RedactMask + dsn[at:]
}

// Redacted returns a deep copy of c with the passwords in source DSNs and
// sink URLs replaced by "****", for printing and logging.
func (c *Config) Redacted() Config {
	out := c.clone()
	for i := range out.Sources {
		out.Sources[i].DSN = RedactDSN(out.Sources[i].DSN)
	}
	for i := range out.Sinks {
		out.Sinks[i].URL = RedactDSN(out.Sinks[i].URL)
	}
	return out
}

// clone returns a copy of c that shares no slices with it.
func (c *Config) clone() Config {
	out := *c
	out.Sources = append([]SourceConfig(nil), c.Sources...)
	for i := range out.Sources {
		out.Sources[i].Tables = append([]string(nil), out.Sources[i].Tables...)
	}
	out.Sinks = append([]SinkConfig(nil), c.Sinks...)
	for i := range out.Sinks {
		out.Sinks[i].Brokers = append([]string(nil), out.Sinks[i].Brokers...)
	}
	out.Learners = append([]LearnerConfig(nil), c.Learners...)
	for i := range out.Learners {
		f := &out.Learners[i].Features
		f.Numeric = append([]string(nil), f.Numeric...)
		f.Categorical = append([]string(nil), f.Categorical...)
		f.Datetime = append([]string(nil), f.Datetime...)
	}
	return out
}
