package replicator

import (
	"context"
	"errors"

	"github.com/tributary-cdc/tributary/change"
)

// Batch is a run of events handed from a source to the pipeline, in commit
// order. A transaction may span several batches; a batch may hold several
// transactions. Events whose TxEnd is set close a transaction.
type Batch []*change.Event

// Source reads a database's change log.
type Source interface {
	// Name returns the source's configured name.
	Name() string

	// Run connects, snapshots if configured, and streams changes into out in
	// commit order until ctx is cancelled or a fatal error occurs. It returns
	// nil only when ctx was cancelled. Transient errors (a lost connection)
	// are returned wrapped in a *RetryableError; the pipeline then calls Run
	// again with backoff, and the source resumes from its confirmed position.
	// Run must not block forever on out when ctx is cancelled.
	Run(ctx context.Context, out chan<- Batch) error

	// Confirm reports that every event up to and including the transaction
	// that ended at pos is durable in every sink. Positions arrive in commit
	// order. The source may then let the database discard its log before pos
	// (PostgreSQL: confirmed flush LSN; MySQL: saved GTID set). Confirm must
	// be cheap and safe to call from any goroutine, and must not block on I/O.
	Confirm(pos change.Position)
}

// Sink stores events somewhere durable.
type Sink interface {
	// Name returns a short name for logs and metrics ("jetstream", "file").
	Name() string

	// Write hands ev to the sink under the pipeline sequence number seq.
	// seq strictly increases across calls. Write may return before ev is
	// durable; the sink must store events in the order of seq, including
	// across reconnects and retries. Write blocks when the sink's in-flight
	// window is full. An error means the sink cannot go on; the pipeline stops.
	Write(ctx context.Context, seq uint64, ev *change.Event) error

	// Durable returns the highest seq such that every event written with a
	// seq at or below it is durably stored. It never decreases.
	Durable() uint64

	// Flush waits until every event written so far is durable, or ctx ends.
	Flush(ctx context.Context) error

	// Close flushes what it can within ctx and releases the sink's resources.
	Close(ctx context.Context) error
}

// StateStore keeps a source's small durable state (positions, snapshot
// progress) under string keys. The JetStream sink backs it with a KV bucket;
// without JetStream it is a directory of files under data_dir.
type StateStore interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key durably before it returns.
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is returned by StateStore.Get for a missing key.
var ErrNotFound = errors.New("not found")

// SubjectPurger is implemented by sinks that can discard what they stored for
// one source. The PostgreSQL source uses it to retract the rows of an initial
// snapshot that was interrupted, before it takes the snapshot again, so that
// consumers never see a snapshot row twice.
type SubjectPurger interface {
	// PurgeSource removes every stored event of the named source.
	PurgeSource(ctx context.Context, source string) error
}

// LastStored is implemented by sinks that can tell which event of a source
// they stored last (the JetStream sink).
type LastStored interface {
	// LastStoredID returns the ID of the newest stored event of the named
	// source, or "" when there is none.
	LastStoredID(ctx context.Context, source string) (string, error)
}

// Resumer is implemented by sources whose event IDs follow their log order.
type Resumer interface {
	// ResumeAfter makes the next Run skip every event whose ID is at or
	// before id in the source's order: those are already stored. An ID the
	// source does not recognise (another format, another source, a position
	// ahead of the server) is ignored with a log line, never guessed at.
	ResumeAfter(id string)
}
