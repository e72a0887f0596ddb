package main

import (
	"context"
	"fmt"
)

// runMySQL runs workloads A and B against MariaDB. TODO(issue 5).
func runMySQL(ctx context.Context, rep *Report, binary, tmp string, o options, pgRates map[string]float64) error {
	rep.Skipped = append(rep.Skipped, "mysql source not built")
	return nil
}

var _ = fmt.Sprintf
