package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-cdc/tributary/replicator"
)

var _ replicator.StateStore = (*StateStore)(nil)

// StateStore keeps sources' small state in a JetStream KV bucket (file
// storage, one revision per key). It implements replicator.StateStore.
//
// Put returns once the server has acknowledged the value, which means it is
// in the server's store file; whether it is fsynced depends on the server's
// sync_interval (see the package documentation).
type StateStore struct {
	kv     natsjs.KeyValue
	bucket string
}

// NewStateStore opens the KV bucket named bucket over nc, creating it if it
// does not exist.
func NewStateStore(ctx context.Context, nc *nats.Conn, bucket string) (*StateStore, error) {
	if nc == nil {
		return nil, errors.New("state store: nil NATS connection")
	}
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", bucket, err)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, natsjs.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, natsjs.KeyValueConfig{
			Bucket:      bucket,
			Description: "Tributary source state",
			History:     1,
			Storage:     natsjs.FileStorage,
		})
		if errors.Is(err, natsjs.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("state store: open bucket %s: %w", bucket, err)
	}
	return &StateStore{kv: kv, bucket: bucket}, nil
}

// Get returns the value stored under key, or replicator.ErrNotFound.
func (s *StateStore) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := kvKey(key)
	if err != nil {
		return nil, err
	}
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, replicator.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("state store %s: get %s: %w", s.bucket, key, err)
	}
	return append([]byte(nil), e.Value()...), nil
}

// Put stores value under key and returns once the server acknowledged it.
func (s *StateStore) Put(ctx context.Context, key string, value []byte) error {
	k, err := kvKey(key)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, k, value); err != nil {
		return fmt.Errorf("state store %s: put %s: %w", s.bucket, key, err)
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (s *StateStore) Delete(ctx context.Context, key string) error {
	k, err := kvKey(key)
	if err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, k); err != nil && !errors.Is(err, natsjs.ErrKeyNotFound) {
		return fmt.Errorf("state store %s: delete %s: %w", s.bucket, key, err)
	}
	return nil
}

// kvKey maps any non-empty key to a valid KV key, one-to-one: bytes outside
// [A-Za-z0-9_/-], '=' itself, and a '.' that would start or end the key or
// follow another '.', are written as "=XX" (hex).
func kvKey(key string) (string, error) {
	if key == "" {
		return "", errors.New("state store: empty key")
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/'
		if c == '.' {
			ok = i > 0 && i < len(key)-1 && key[i-1] != '.'
		}
		if ok {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String(), nil
}

const hexDigits = "0123456789ABCDEF"
