package config

import (
	"fmt"
	"strings"
	"time"
)

// Default values, as documented in DESIGN.md.
const (
	DefaultDataDir         = "./data"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	DefaultAdminListen     = "127.0.0.1:7070"
	DefaultSnapshot        = SnapshotInitial
	DefaultStream          = "TRIBUTARY"
	DefaultSubjectPrefix   = "cdc"
	DefaultNATSListen      = "127.0.0.1:4222"
	DefaultDuplicateWindow = 5 * time.Second
	DefaultMaxPending      = 4096
	DefaultTopicPrefix     = "cdc"
	DefaultAlgorithm       = AlgorithmSGD
	DefaultVersionEvents   = 10000
	DefaultVersionInterval = 30 * time.Second
	DefaultKeepVersions    = 100
	DefaultLearningRate    = 0.5
	DefaultRidgeL2         = 1.0
	DefaultRollingWindow   = 1000
	DefaultKeyColumn       = "id"
	DefaultAggregateWindow = 5 * time.Minute
)

// Allowed values of the enumerated keys.
const (
	TypePostgres = "postgres"
	TypeMySQL    = "mysql"

	SinkJetStream = "jetstream"
	SinkKafka     = "kafka"
	SinkFile      = "file"

	SnapshotInitial = "initial"
	SnapshotNever   = "never"

	AlgorithmSGD   = "sgd"
	AlgorithmRidge = "ridge"
)

// Default returns the configuration of an empty file: data_dir, log and
// admin filled in, no sources, sinks or learners. Per-item defaults (slot
// names, stream names, learner schedules) depend on the item and are filled
// in by FillDefaults.
func Default() Config {
	return Config{
		DataDir: DefaultDataDir,
		Log:     LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Admin:   AdminConfig{Listen: DefaultAdminListen},
	}
}

// DefaultSlotName returns the default replication slot and publication name
// of a source: tributary_<name> with '-' turned into '_', since slot names
// allow only [a-z0-9_].
func DefaultSlotName(source string) string {
	return "tributary_" + strings.ReplaceAll(source, "-", "_")
}

// FillDefaults sets every empty defaulted field of c to its default, for
// configs built in code. A zero value counts as unset, except admin.listen
// (empty disables the admin server) and a learner's version_every, which is
// defaulted only when both events and interval are zero. Load fills defaults
// itself and tells an explicit 0 from a missing key.
func (c *Config) FillDefaults() { c.fillDefaults(nil) }

// fillDefaults fills defaults; isSet, when not nil, reports whether a key
// path was given in the file or environment, so that an explicit zero in
// version_every is kept.
func (c *Config) fillDefaults(isSet func(path string) bool) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Snapshot == "" {
			s.Snapshot = DefaultSnapshot
		}
		if s.Type == TypePostgres && s.Name != "" {
			if s.Slot == "" {
				s.Slot = DefaultSlotName(s.Name)
			}
			if s.Publication == "" {
				s.Publication = DefaultSlotName(s.Name)
			}
		}
	}
	for i := range c.Sinks {
		k := &c.Sinks[i]
		switch k.Type {
		case SinkJetStream:
			if k.Stream == "" {
				k.Stream = DefaultStream
			}
			if k.SubjectPrefix == "" {
				k.SubjectPrefix = DefaultSubjectPrefix
			}
			if k.URL == "" && k.Listen == "" {
				k.Listen = DefaultNATSListen
			}
			if k.DuplicateWindow == 0 {
				k.DuplicateWindow = DefaultDuplicateWindow
			}
			if k.MaxPending == 0 {
				k.MaxPending = DefaultMaxPending
			}
		case SinkKafka:
			if k.TopicPrefix == "" {
				k.TopicPrefix = DefaultTopicPrefix
			}
		}
	}
	for i := range c.Learners {
		l := &c.Learners[i]
		if l.Algorithm == "" {
			l.Algorithm = DefaultAlgorithm
		}
		l.fillLearnerDefaults(i, isSet)
		ve := &l.VersionEvery
		if isSet == nil {
			if ve.Events == 0 && ve.Interval == 0 {
				ve.Events, ve.Interval = DefaultVersionEvents, DefaultVersionInterval
			}
			continue
		}
		base := fmt.Sprintf("learners[%d].version_every", i)
		if !isSet(base + ".events") {
			ve.Events = DefaultVersionEvents
		}
		if !isSet(base + ".interval") {
			ve.Interval = DefaultVersionInterval
		}
	}
}

// fillLearnerDefaults fills the learner keys added with the learner itself:
// learning_rate, l2 (by algorithm; an explicit 0 given in the file is kept),
// keep_versions (an explicit 0, keep all, is kept), rolling_window, key and
// the aggregate window.
func (l *LearnerConfig) fillLearnerDefaults(i int, isSet func(path string) bool) {
	set := func(key string) bool {
		return isSet != nil && isSet(fmt.Sprintf("learners[%d].%s", i, key))
	}
	if l.LearningRate == 0 && !set("learning_rate") {
		l.LearningRate = DefaultLearningRate
	}
	if l.L2 == 0 && !set("l2") && l.Algorithm == AlgorithmRidge {
		l.L2 = DefaultRidgeL2
	}
	if l.KeepVersions == 0 && !set("keep_versions") {
		l.KeepVersions = DefaultKeepVersions
	}
	if l.RollingWindow == 0 && !set("rolling_window") {
		l.RollingWindow = DefaultRollingWindow
	}
	if len(l.Key) == 0 && !set("key") {
		l.Key = []string{DefaultKeyColumn}
	}
	if len(l.Aggregates.Keys) > 0 && l.Aggregates.Window == 0 && !set("aggregates.window") {
		l.Aggregates.Window = DefaultAggregateWindow
	}
}
