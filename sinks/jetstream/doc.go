// Package jetstream is Tributary's NATS JetStream sink. It publishes every
// change.Event to a JetStream stream, provisions (or checks) that stream,
// keeps the sources' small state in a KV bucket, and can run an embedded
// nats-server for `tributary run` when no NATS URL is configured.
//
// # Publishing
//
// Each event is published on Subject(prefix, ev) with its JSON envelope as
// the payload and its ID in the Nats-Msg-Id header, so the stream drops a
// replayed event as a duplicate (within the stream's duplicate window).
// Publishes are pipelined: up to Options.MaxPending events may wait for their
// acknowledgement, and Write blocks while that window is full. Durable
// reports the highest pipeline sequence below which every event has been
// acknowledged, whatever order the acknowledgements arrive in.
//
// # Order across failures
//
// The stream must hold a source's events in pipeline order, also across
// disconnects, server restarts and failed publishes. When a publish fails (an
// error reply, an ack timeout, a lost connection, 503 no responders) or the
// connection drops, the sink stops sending, waits until every publish still in
// flight has been answered or has failed, waits until JetStream answers for
// the stream again (re-creating it if it was deleted), re-sends the first
// unacknowledged event synchronously until it is acknowledged (with backoff),
// then re-sends the rest in order, pipelined, and only then takes new events
// again. Events the server already had come back as duplicates and are not
// stored twice. The NATS connection must not buffer publishes while it
// reconnects (Connect sets nats.ReconnectBufSize(-1)): a buffer would be
// flushed into a server whose JetStream may not be ready yet. The client's own
// no-responders retry is disabled for the same reason: it would re-send one
// message behind later ones.
//
// # What remains
//
// Order can still break in one case: the server rejects event k and stores a
// later event k+j that was already on the wire before the sink learned of the
// failure. Re-sending k then stores it after k+j. With a single server this
// needs an error that hits one message and not the next: the stream's ingest
// queue overflowing (429; nats-server allows 100k messages or 128 MiB per
// stream, and the sink keeps at most MaxPending events and MaxPendingBytes
// in flight, far below, unless many publishers share the stream), a transient
// store error, or a stream limit with discard=new that a smaller later message
// fits under. A standalone server restores its streams before it accepts
// clients, so a restart does not cause it; in a cluster, a stream leader
// change can.
// The sink detects the case from the stream sequences in the acks, logs it and
// counts it in Stats.Reordered; it cannot undo it, because deleting and
// re-publishing k+j would be swallowed by the duplicate window.
//
// A re-sent event is recognised as a duplicate by the stream only within its
// duplicate window (Options.DuplicateWindow, 5 seconds by default, kept short
// because the server holds every message ID of the window in memory). Two
// mechanisms make exactness independent of it: before recovery re-sends
// anything, it asks the stream for the newest stored message of each source
// with events waiting and marks that event and the source's earlier ones as
// stored (skipStored); and when the daemon starts, the pipeline passes each
// source the ID of its newest stored event (LastStoredID), so that a replay
// after a crash skips what the stream holds however long ago it was stored.
//
// # Acknowledgements and fsync
//
// An acknowledgement means the server has written the message to its store
// file, not that the file is fsynced. With the embedded server, SyncInterval
// picks the trade-off: by default (2m) and with a duration, an acknowledged
// message survives a crash of the server process but may be lost if the
// machine loses power within that interval; with "always" it is fsynced
// before the acknowledgement, at a large cost in throughput.
package jetstream
