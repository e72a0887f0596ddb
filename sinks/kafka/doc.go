// Package kafka is Tributary's optional Kafka sink. It produces every
// change.Event as one Kafka record with franz-go's kgo client, creates the
// topics it needs, and reports as durable only what the cluster acknowledged
// with acks=all.
//
// # Records
//
// Each event goes to the topic Topic(prefix, ev):
// "<prefix>.<source>.<schema-or-db>.<table>" (the schema for PostgreSQL,
// the database for MySQL). Kafka topic names allow only [a-zA-Z0-9._-], at
// most 249 characters: every other byte of the source, namespace and table
// names becomes '_', as does a '.' inside a name (it would add a level), an
// empty name becomes "_", and a name longer than 249 characters is cut and
// ends in '_' and eight hex digits of its FNV-1a hash. Distinct names can
// therefore share a topic ("a.b" and "a_b", "héllo" and "h__llo"); the
// event's source block keeps the exact names. Kafka also warns that '.' and
// '_' collide in its metric names.
//
// The record value is the event's JSON envelope (change.AppendJSON). The
// headers are tributary-id (the event's deterministic ID, so that a consumer
// can drop a replayed event), tributary-op (c, u, d, r or t) and, when the
// event has a transaction block, tributary-tx (its ID).
//
// # Key
//
// An event carries no primary-key metadata, so the key is chosen by column
// name: the record key is a JSON object of the Options.KeyColumns (default
// ["id"]) with their values, {"id":7}, in the shape a Debezium key takes
// with the JSON converter without schemas. The values come from the after
// image, or from the before image when there is none (a delete). When the
// image lacks one of the key columns (a table without an "id" column), and
// for truncates, the record has no key.
//
// Records with a key go to the partition Kafka's own Java client would pick
// (murmur2 of the key); records without a key all go to partition 0, so a
// table without a key column keeps its full order, in one partition. The key
// is a stable row identity only when the key columns are the table's primary
// key and never change: an update that changes the id puts the row's later
// events under another key, and possibly another partition, than its earlier
// ones.
//
// # Order
//
// Kafka orders records within a partition only. What holds: the events of
// one key of one table reach their partition in commit order (the pipeline's
// seq order), also across the client's internal retries, which the
// idempotent producer keeps in order; so do all keyless events of a table.
// What does not hold, unlike JetStream: a transaction's events are not
// contiguous, since they are spread over one topic per table and over
// partitions, and a consumer reading several partitions or topics sees them
// interleaved with other transactions; a truncate (partition 0) is not
// ordered against the keyed row events of its table in other partitions.
// The transaction block of each event (id, total_order) lets a consumer
// regroup transactions.
//
// # Durability
//
// The producer waits for all in-sync replicas (acks=all) and is idempotent,
// franz-go's default, so its internal retries neither reorder nor duplicate
// records. Records are produced asynchronously (lingering Options.Linger to
// fill batches); Write blocks while Options.MaxBufferedRecords or
// Options.MaxBufferedBytes are unacknowledged. Durable reports the highest
// pipeline seq below which every record is acknowledged, whatever order the
// acknowledgements of different partitions arrive in.
//
// A record that fails for good (after the client's retries: the cluster
// unreachable for Options.DeliveryTimeout, a record too large, a denied
// topic) stops the sink: Write and Flush return the error from then on and
// Durable stays below the failed record, so the source position that covers
// it is never confirmed and nothing is lost. Because failing a record that is
// already on the wire is allowed (kgo.AllowIdempotentProduceCancellation),
// the cluster may hold it anyway. After a restart the source replays from its
// last confirmed position, so the sink delivers at least once: a consumer
// that needs exactly-once drops records whose tributary-id it has already
// seen. Unlike the JetStream sink, nothing here skips events Kafka already
// holds.
//
// # Topics
//
// The sink creates each topic the first time it produces to it, with a
// CreateTopics request (kadm), with Options.Partitions and
// Options.ReplicationFactor or the broker's defaults; an existing topic is
// used as it is. It does not rely on the broker's auto.create.topics.enable,
// which managed clusters often disable. When the principal may not create
// topics, the sink logs a warning and produces anyway: the topics must then
// exist, or their records fail.
package kafka
