package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// DefaultModelBucket is the object store bucket the learners keep their
// model versions in.
const DefaultModelBucket = "tributary_models"

// ObjectBlobs keeps named blobs in a JetStream object store bucket (file
// storage): the learners' model store when the sink is JetStream. Its
// methods have the signatures of learner.Blobs; a missing blob is reported
// with an error wrapping fs.ErrNotExist (which is learner.ErrNotFound), so
// this package need not import the learner.
type ObjectBlobs struct {
	obs    natsjs.ObjectStore
	js     natsjs.JetStream
	bucket string
}

// NewObjectBlobs opens the object store bucket over nc, creating it when
// it does not exist.
func NewObjectBlobs(ctx context.Context, nc *nats.Conn, bucket string) (*ObjectBlobs, error) {
	if nc == nil {
		return nil, errors.New("object store: nil NATS connection")
	}
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", bucket, err)
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, natsjs.ErrBucketNotFound) || errors.Is(err, natsjs.ErrStreamNotFound) {
		obs, err = js.CreateObjectStore(ctx, natsjs.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "Tributary model versions",
			Storage:     natsjs.FileStorage,
		})
		if errors.Is(err, natsjs.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object store: open bucket %s: %w", bucket, err)
	}
	return &ObjectBlobs{obs: obs, js: js, bucket: bucket}, nil
}

// Put stores data under name and returns once the server has acknowledged
// every chunk and the object's metadata.
func (o *ObjectBlobs) Put(ctx context.Context, name string, data []byte) error {
	if _, err := o.obs.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("object store %s: put %s: %w", o.bucket, name, err)
	}
	return nil
}

// Get returns the object stored under name; a missing one gives an error
// wrapping fs.ErrNotExist.
func (o *ObjectBlobs) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := o.obs.GetBytes(ctx, name)
	if errors.Is(err, natsjs.ErrObjectNotFound) {
		return nil, fmt.Errorf("object store %s: %s: %w", o.bucket, name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: get %s: %w", o.bucket, name, err)
	}
	return b, nil
}

// List returns the names of the objects that start with prefix (deleted
// objects excluded).
func (o *ObjectBlobs) List(ctx context.Context, prefix string) ([]string, error) {
	infos, err := o.obs.List(ctx)
	if errors.Is(err, natsjs.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: list: %w", o.bucket, err)
	}
	var names []string
	for _, info := range infos {
		if !info.Deleted && strings.HasPrefix(info.Name, prefix) {
			names = append(names, info.Name)
		}
	}
	return names, nil
}

// Delete removes the object stored under name: its chunks, then its
// metadata. The object store's Delete leaves a delete marker on the
// object's metadata subject (ADR-20: "$O.<bucket>.M.<base64url name>" in
// stream "OBJ_<bucket>"), which every List would read again forever, so
// Delete purges that subject too once the marker is stored. A missing
// object is not an error.
func (o *ObjectBlobs) Delete(ctx context.Context, name string) error {
	err := o.obs.Delete(ctx, name)
	if errors.Is(err, natsjs.ErrObjectNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("object store %s: delete %s: %w", o.bucket, name, err)
	}
	if err := o.purgeMarker(ctx, name); err != nil {
		return fmt.Errorf("object store %s: delete %s: purge the delete marker: %w", o.bucket, name, err)
	}
	return nil
}

// purgeMarker purges the metadata subject of name up to and including its
// last message when that is a delete marker, so that a Put of the same name
// racing the purge is not lost.
func (o *ObjectBlobs) purgeMarker(ctx context.Context, name string) error {
	st, err := o.js.Stream(ctx, "OBJ_"+o.bucket)
	if err != nil {
		return err
	}
	subj := "$O." + o.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
	m, err := st.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, natsjs.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var info natsjs.ObjectInfo
	if err := json.Unmarshal(m.Data, &info); err != nil || !info.Deleted {
		return err
	}
	return st.Purge(ctx, natsjs.WithPurgeSubject(subj), natsjs.WithPurgeSequence(m.Sequence+1))
}
