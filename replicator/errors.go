package replicator

import "errors"

// RetryableError wraps an error after which a source can be run again.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as a *RetryableError; it returns nil for nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &RetryableError{Err: err}
}

// IsRetryable reports whether err is, or wraps, a *RetryableError.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// permanentError marks an error after which retrying cannot help.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one after which retrying cannot help, so that
// Classify leaves it as it is; it returns nil for nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err is, or wraps, an error marked by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Classify wraps err as retryable unless it is marked permanent or is
// retryable already, so that the pipeline runs a source again with backoff
// after network failures and server restarts. It returns nil for nil.
func Classify(err error) error {
	if err == nil || IsPermanent(err) || IsRetryable(err) {
		return err
	}
	return Retryable(err)
}
