// Package window is the in-flight window the asynchronous sinks (jetstream,
// kafka) share: a ring of reusable slots holding the events written and not
// yet acknowledged, in write order, with limits on their count and bytes
// that make a writer wait, the durable position (the seq of the last event
// released from the front) and the wake-up channel writers and flushers
// sleep on. What an entry holds, when it counts as acknowledged and what
// stops a sink stay with the sink.
package window
