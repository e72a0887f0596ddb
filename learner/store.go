package learner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/internal/fsutil"
)

// ErrNotFound is what Blobs.Get returns (wrapped or not) for a missing
// blob. It is fs.ErrNotExist, so that stores outside this package (the
// JetStream object store in sinks/jetstream) can signal it without
// importing the learner: test with errors.Is(err, ErrNotFound).
var ErrNotFound = fs.ErrNotExist

// Blobs is the model store: named byte blobs.
type Blobs interface {
	// Put stores data under name, replacing what was there, and returns
	// once it is durable (acknowledged by the server, or written and
	// synced); a reader never sees part of it.
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the data stored under name, or an error for which
	// errors.Is(err, ErrNotFound) holds when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the names that start with prefix, in any order; none is
	// not an error.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the blob stored under name; once it returns nil, Get
	// of name reports ErrNotFound and List leaves name out. Deleting a
	// missing blob is not an error.
	Delete(ctx context.Context, name string) error
}

// DirBlobs keeps blobs as files under a directory; a name's '/' separated
// parts become subdirectories.
type DirBlobs struct{ dir string }

// NewDirBlobs returns a store of files under dir (created when needed):
// data_dir/models when there is no JetStream.
func NewDirBlobs(dir string) *DirBlobs { return &DirBlobs{dir: dir} }

func (d *DirBlobs) path(name string) (string, error) {
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("model store %s: bad name %q", d.dir, name)
	}
	return filepath.Join(d.dir, filepath.FromSlash(name)), nil
}

// Put writes data to a temporary file, syncs it and renames it into place.
func (d *DirBlobs) Put(ctx context.Context, name string, data []byte) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("model store: %w", err)
	}
	if err := fsutil.WriteFileAtomic(p, data, 0o644); err != nil {
		return fmt.Errorf("model store: put %s: %w", name, err)
	}
	return nil
}

// Get reads the file of name.
func (d *DirBlobs) Get(ctx context.Context, name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("model store: get %s: %w", name, err)
	}
	return b, nil
}

// Delete removes the file of name; a missing file is not an error.
func (d *DirBlobs) Delete(ctx context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("model store: delete %s: %w", name, err)
	}
	return nil
}

// List walks the directory for names starting with prefix.
func (d *DirBlobs) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(d.dir, p)
		if err != nil {
			return err
		}
		if n := filepath.ToSlash(rel); strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model store %s: list: %w", d.dir, err)
	}
	return names, nil
}

// Store keeps a learner's versions in Blobs, as "<learner>/v<number>.json".
type Store struct{ Blobs Blobs }

// VersionName returns the blob name of a learner's version.
func VersionName(learner string, v uint64) string {
	return fmt.Sprintf("%s/v%010d.json", learner, v)
}

// Versions returns the learner's version numbers, ascending.
func (s Store) Versions(ctx context.Context, learner string) ([]uint64, error) {
	names, err := s.Blobs.List(ctx, learner+"/v")
	if err != nil {
		return nil, err
	}
	var vs []uint64
	for _, n := range names {
		num, ok := strings.CutPrefix(n, learner+"/v")
		if !ok {
			continue
		}
		num, ok = strings.CutSuffix(num, ".json")
		v, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil || strings.Contains(num, "/") {
			continue
		}
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs, nil
}

// Load reads and verifies one version.
func (s Store) Load(ctx context.Context, learner string, v uint64) (*Version, error) {
	b, err := s.Blobs.Get(ctx, VersionName(learner, v))
	if err != nil {
		return nil, fmt.Errorf("learner %s version %d: %w", learner, v, err)
	}
	ver, err := DecodeVersion(b)
	if err != nil {
		return nil, fmt.Errorf("learner %s version %d: %w", learner, v, err)
	}
	if ver.Learner != learner || ver.Version != v {
		return nil, fmt.Errorf("learner %s version %d: the file holds version %d of %s", learner, v, ver.Version, ver.Learner)
	}
	return ver, nil
}

// Latest returns the newest version that loads and verifies, and the
// errors of newer ones that did not; ErrNotFound when there is none.
func (s Store) Latest(ctx context.Context, learner string) (*Version, []error, error) {
	vs, err := s.Versions(ctx, learner)
	if err != nil {
		return nil, nil, err
	}
	var skipped []error
	for i := len(vs) - 1; i >= 0; i-- {
		v, err := s.Load(ctx, learner, vs[i])
		if err == nil {
			return v, skipped, nil
		}
		if ctx.Err() != nil {
			return nil, skipped, err
		}
		skipped = append(skipped, err)
	}
	return nil, skipped, fmt.Errorf("learner %s: no versions: %w", learner, ErrNotFound)
}

// Delete removes version v of a learner; a missing one is not an error.
func (s Store) Delete(ctx context.Context, learner string, v uint64) error {
	if err := s.Blobs.Delete(ctx, VersionName(learner, v)); err != nil {
		return fmt.Errorf("delete learner %s version %d: %w", learner, v, err)
	}
	return nil
}

// Save writes version v (encoding it, which sets its checksum).
func (s Store) Save(ctx context.Context, v *Version) error {
	b, err := v.Encode()
	if err != nil {
		return err
	}
	if err := s.Blobs.Put(ctx, VersionName(v.Learner, v.Version), b); err != nil {
		return fmt.Errorf("save learner %s version %d: %w", v.Learner, v.Version, err)
	}
	return nil
}
