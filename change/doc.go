// Package change defines the unit Tributary moves: one Event per row change,
// its source Position, and the JSON codec that writes it in the Debezium
// envelope shape (before, after, source, op, ts_ms, transaction).
//
// Column values are carried as raw JSON already in their lossless form
// (decimal strings, exact integers, ISO-8601 timestamps, base64 bytes), so
// encoding an event never converts a value and never loses precision.
//
// The package imports nothing of Tributary's and only the standard library.
package change
