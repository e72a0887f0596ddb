package replicator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tributary-cdc/tributary/internal/fsutil"
)

// DirStore is a StateStore kept as one file per key in a directory. Put
// writes a temporary file, fsyncs it and renames it over the old one, so a
// crash leaves either the old or the new value.
type DirStore struct{ dir string }

var keyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// NewDirStore returns a DirStore in dir, creating the directory.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	return &DirStore{dir: dir}, nil
}

func (d *DirStore) path(key string) (string, error) {
	if !keyRE.MatchString(key) {
		return "", fmt.Errorf("state key %q: use letters, digits, '.', '_' and '-'", key)
	}
	return filepath.Join(d.dir, key), nil
}

// Get returns the value stored under key, or ErrNotFound.
func (d *DirStore) Get(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", key, err)
	}
	return b, nil
}

// Put stores value under key and fsyncs it before returning.
func (d *DirStore) Put(_ context.Context, key string, value []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(p, value, 0o644); err != nil {
		return fmt.Errorf("state %s: %w", key, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (d *DirStore) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete state %s: %w", key, err)
	}
	return nil
}
