// Package progress prints progress while a long job runs: it calls a
// function, or writes a line, once per interval from a background goroutine
// until the caller stops it.
package progress
