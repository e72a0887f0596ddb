package config

import (
	"errors"
	"fmt"
	"strings"
)

// Source returns the source with the given name, pointing into c.
func (c *Config) Source(name string) (*SourceConfig, bool) {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i], true
		}
	}
	return nil, false
}

// Sink returns the first sink of the given type (jetstream, kafka, file),
// pointing into c. A valid config has at most one sink per type.
func (c *Config) Sink(typ string) (*SinkConfig, bool) {
	for i := range c.Sinks {
		if c.Sinks[i].Type == typ {
			return &c.Sinks[i], true
		}
	}
	return nil, false
}

// Learner returns the learner with the given name, pointing into c. An
// empty name selects the only learner; when there are none or several it
// is an error that lists the configured names.
func (c *Config) Learner(name string) (*LearnerConfig, error) {
	if name == "" {
		switch len(c.Learners) {
		case 0:
			return nil, errors.New("no learners configured")
		case 1:
			return &c.Learners[0], nil
		default:
			return nil, fmt.Errorf("%d learners configured (%s): choose one with --learner", len(c.Learners), c.learnerNames())
		}
	}
	for i := range c.Learners {
		if c.Learners[i].Name == name {
			return &c.Learners[i], nil
		}
	}
	if len(c.Learners) == 0 {
		return nil, fmt.Errorf("no learner %q: no learners configured", name)
	}
	return nil, fmt.Errorf("no learner %q (configured: %s)", name, c.learnerNames())
}

func (c *Config) sourceNames() string {
	names := make([]string, len(c.Sources))
	for i, s := range c.Sources {
		names[i] = s.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (c *Config) learnerNames() string {
	names := make([]string, len(c.Learners))
	for i, l := range c.Learners {
		names[i] = l.Name
	}
	return strings.Join(names, ", ")
}
