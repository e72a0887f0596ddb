// Package file is the JSON-lines sink: one Debezium-envelope event per line,
// appended to a file (fsynced before an event counts as durable) or written
// to standard output when the path is "-".
package file
