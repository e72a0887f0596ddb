package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newRunCmd) }

// defaultMemoryLimit is the daemon's soft Go heap limit when GOMEMLIMIT is
// not set (GOMEMLIMIT=off or any size overrides it).
const defaultMemoryLimit = 112 << 20

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the sidecar daemon: sources -> sinks, learners",
		Long: `Run reads row changes from the configured sources and publishes them to the
configured sinks, confirming each source's position only after every sink has
durably stored every change up to it.

SIGINT or SIGTERM stops it gracefully: it stops reading, waits (bounded) for
the sinks to acknowledge what was sent, confirms the position and exits 0.
A second signal aborts at once (exit 130); nothing is lost either way, since
unconfirmed changes are read again on the next start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := stderrLogger(cfg.Log)
			if os.Getenv("GOMEMLIMIT") == "" {
				// A soft heap limit: the garbage collector works harder as the
				// heap nears it instead of letting it grow to twice the live
				// data. The embedded NATS server allocates per message, and
				// this keeps the daemon's footprint small on small hosts.
				debug.SetMemoryLimit(defaultMemoryLimit)
			}
			ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
			defer cancel()
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			go func() {
				select {
				case sig := <-sigs:
					log.Info("shutting down; a second signal aborts", "signal", sig.String())
					cancel()
				case <-ctx.Done():
					return
				}
				sig := <-sigs
				log.Error("aborting", "signal", sig.String())
				os.Exit(130)
			}()
			d, err := newDaemon(ctx, cfg, log)
			if err != nil {
				return fmt.Errorf("start: %w", err)
			}
			return d.run(ctx)
		},
	}
}
