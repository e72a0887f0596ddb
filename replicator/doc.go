// Package replicator moves change events from a Source to one or more Sinks
// and confirms the source's position only once every sink has durably
// stored every event up to a transaction end. It defines the Source, Sink and
// StateStore contracts that the backends in replicator/* and sinks/* satisfy,
// and owns checkpointing, backoff and metrics.
package replicator
