package main

import "context"

// runBatch times batch preprocess. TODO.
func runBatch(ctx context.Context, rep *Report, binary, tmp string, o options) error {
	return nil
}
