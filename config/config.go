package config

import "time"

// Config is Tributary's whole configuration, as read from one YAML file.
type Config struct {
	DataDir  string          `mapstructure:"data_dir" json:"data_dir"`
	Log      LogConfig       `mapstructure:"log" json:"log"`
	Admin    AdminConfig     `mapstructure:"admin" json:"admin"`
	Sources  []SourceConfig  `mapstructure:"sources" json:"sources"`
	Sinks    []SinkConfig    `mapstructure:"sinks" json:"sinks"`
	Learners []LearnerConfig `mapstructure:"learners" json:"learners"`
}

// LogConfig sets the log level (debug, info, warn, error) and format (text, json).
type LogConfig struct {
	Level  string `mapstructure:"level" json:"level"`
	Format string `mapstructure:"format" json:"format"`
}

// AdminConfig is the admin HTTP server; an empty Listen disables it.
type AdminConfig struct {
	Listen string `mapstructure:"listen" json:"listen"`
}

// SourceConfig is one database to capture changes from.
type SourceConfig struct {
	Name        string   `mapstructure:"name" json:"name"`
	Type        string   `mapstructure:"type" json:"type"` // postgres | mysql
	DSN         string   `mapstructure:"dsn" json:"dsn"`
	Tables      []string `mapstructure:"tables" json:"tables"`
	Slot        string   `mapstructure:"slot" json:"slot,omitempty"`               // postgres; default tributary_<name>
	Publication string   `mapstructure:"publication" json:"publication,omitempty"` // postgres; default tributary_<name>
	Snapshot    string   `mapstructure:"snapshot" json:"snapshot"`                 // initial | never
	ServerID    uint32   `mapstructure:"server_id" json:"server_id,omitempty"`     // mysql
}

// SinkConfig is one destination. Fields apply by Type.
type SinkConfig struct {
	Type string `mapstructure:"type" json:"type"` // jetstream | kafka | file

	// jetstream
	URL             string        `mapstructure:"url" json:"url,omitempty"` // empty: embedded server
	Stream          string        `mapstructure:"stream" json:"stream,omitempty"`
	SubjectPrefix   string        `mapstructure:"subject_prefix" json:"subject_prefix,omitempty"`
	Listen          string        `mapstructure:"listen" json:"listen,omitempty"`               // embedded server address, default 127.0.0.1:4222
	SyncInterval    string        `mapstructure:"sync_interval" json:"sync_interval,omitempty"` // embedded server fsync policy: "always" or a duration; default 2m
	DuplicateWindow time.Duration `mapstructure:"duplicate_window" json:"duplicate_window,omitempty"`
	MaxPending      int           `mapstructure:"max_pending" json:"max_pending,omitempty"` // async publish window

	// kafka
	Brokers     []string `mapstructure:"brokers" json:"brokers,omitempty"`
	TopicPrefix string   `mapstructure:"topic_prefix" json:"topic_prefix,omitempty"`

	// file
	Path string `mapstructure:"path" json:"path,omitempty"` // "-" for stdout
}

// LearnerConfig is one online model trained from a table's change stream.
type LearnerConfig struct {
	Name         string        `mapstructure:"name" json:"name"`
	Source       string        `mapstructure:"source" json:"source"`
	Table        string        `mapstructure:"table" json:"table"`
	Target       string        `mapstructure:"target" json:"target"`
	Features     FeatureConfig `mapstructure:"features" json:"features"`
	Algorithm    string        `mapstructure:"algorithm" json:"algorithm"` // sgd | ridge
	VersionEvery VersionEvery  `mapstructure:"version_every" json:"version_every"`
	// KeepVersions is how many of the newest model versions are kept: after
	// each save the older ones are deleted (the newest never, and a warm
	// start's version 1 is kept besides). Default 100; 0 keeps all.
	KeepVersions int `mapstructure:"keep_versions" json:"keep_versions"`

	// LearningRate is the sgd step size (default 0.5); ridge ignores it.
	LearningRate float64 `mapstructure:"learning_rate" json:"learning_rate,omitempty"`
	// L2 is the L2 penalty on standardized weights: ridge's lambda
	// (default 1, must be > 0) or sgd's weight decay (default 0).
	L2 float64 `mapstructure:"l2" json:"l2"`
	// WarmStart is the path of a `tributary batch train` model file imported
	// as the learner's first version; empty for none.
	WarmStart string `mapstructure:"warm_start" json:"warm_start,omitempty"`
	// RollingWindow is how many recent predictions the rolling metrics
	// cover (default 1000).
	RollingWindow int `mapstructure:"rolling_window" json:"rolling_window"`
	// Key names the columns that identify a row in prediction events
	// (default [id]).
	Key []string `mapstructure:"key" json:"key,omitempty"`
	// Aggregates configures rolling averages of the target per key column.
	Aggregates AggregateConfig `mapstructure:"aggregates" json:"aggregates"`
}

// AggregateConfig asks for a rolling average of the target over Window,
// per value of each of Keys (each column separately), published for every
// insert the learner learns. No keys means no aggregates.
type AggregateConfig struct {
	Keys   []string      `mapstructure:"keys" json:"keys,omitempty"`
	Window time.Duration `mapstructure:"window" json:"window,omitempty"` // default 5m when keys are set
}

// FeatureConfig names the columns a learner uses, by kind.
type FeatureConfig struct {
	Numeric     []string `mapstructure:"numeric" json:"numeric,omitempty"`
	Categorical []string `mapstructure:"categorical" json:"categorical,omitempty"`
	Datetime    []string `mapstructure:"datetime" json:"datetime,omitempty"`
}

// VersionEvery says how often a learner saves a model version.
type VersionEvery struct {
	Events   int           `mapstructure:"events" json:"events"`
	Interval time.Duration `mapstructure:"interval" json:"interval"`
}
