package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tributary-cdc/tributary/change"
)

// MaxTopicLen is the longest topic name Kafka accepts.
const MaxTopicLen = 249

// Topic returns the topic ev is produced to:
// "<prefix>.<source>.<schema-or-db>.<table>". The source, namespace and table
// are made topic-safe: every byte outside [a-zA-Z0-9_-] (a '.' included)
// becomes '_', an empty name becomes "_", and a result longer than
// MaxTopicLen is cut and ends in '_' and the FNV-1a hash of the full name in
// eight hex digits. prefix is used as given and must be a valid topic name.
func Topic(prefix string, ev *change.Event) string {
	src, ns, tbl := ev.Source.Name, ev.Source.Namespace(), ev.Source.Table
	var b strings.Builder
	b.Grow(len(prefix) + len(src) + len(ns) + len(tbl) + 3)
	b.WriteString(prefix)
	for _, t := range [3]string{src, ns, tbl} {
		b.WriteByte('.')
		writeName(&b, t)
	}
	topic := b.String()
	if len(topic) <= MaxTopicLen {
		return topic
	}
	h := fnv.New32a()
	h.Write([]byte(topic))
	return fmt.Sprintf("%s_%08x", topic[:MaxTopicLen-9], h.Sum32())
}

func writeName(b *strings.Builder, s string) {
	if s == "" {
		b.WriteByte('_')
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !topicByte(c) || c == '.' {
			c = '_'
		}
		b.WriteByte(c)
	}
}

// topicByte reports whether c may appear in a Kafka topic name.
func topicByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// validatePrefix checks that prefix is a legal start of a topic name.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return errors.New("topic_prefix is empty")
	}
	if len(prefix) > MaxTopicLen-6 {
		return fmt.Errorf("topic_prefix is %d characters long; topics are limited to %d", len(prefix), MaxTopicLen)
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; !topicByte(c) {
			return fmt.Errorf("topic_prefix %q contains %q; use letters, digits, '.', '_' and '-'", prefix, c)
		}
	}
	return nil
}

// ensureTopic creates topic unless it exists. A principal that may not
// create topics gets one warning; the records then fail if the topic is
// missing.
func (s *Sink) ensureTopic(ctx context.Context, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	resp, err := s.adm.CreateTopic(ctx, s.opts.Partitions, s.opts.ReplicationFactor, nil, topic)
	switch {
	case err == nil:
		s.log.Info("created kafka topic", "topic", topic, "partitions", resp.NumPartitions, "replication_factor", resp.ReplicationFactor)
	case errors.Is(err, kerr.TopicAlreadyExists):
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		if !s.createDenied {
			s.createDenied = true
			s.log.Warn("not allowed to create kafka topics; they must exist already", "topic", topic, "err", err)
		}
	default:
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
		}
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
