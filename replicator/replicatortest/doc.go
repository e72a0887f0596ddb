// Package replicatortest holds helpers for the tests of the replicator
// sources: an in-process sink that keeps what it is given and can hold its
// acks back, and small polling and row helpers. It is imported by tests
// only.
package replicatortest
