// Command tributary is the Tributary CDC daemon and its tools. Each command
// group lives in its own file; this is the only package that wires the
// backends together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tributary",
		Short:         "Change-data capture from PostgreSQL and MySQL to NATS JetStream, with an online model updater",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "config file (default ./tributary.yaml, or $TRIBUTARY_CONFIG)")
	for _, add := range commands {
		root.AddCommand(add())
	}
	return root
}

// commands holds the constructors of the top-level commands; each command
// file appends to it from an init function.
var commands []func() *cobra.Command

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "tributary:", err)
	os.Exit(1)
}
