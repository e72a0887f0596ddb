package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tributary-cdc/tributary/config"
)

// loadConfig reads the config named by --config (or $TRIBUTARY_CONFIG, or
// ./tributary.yaml). Problems are printed one per line and end the command.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	flag, _ := cmd.Flags().GetString("config")
	path := config.ResolvePath(flag)
	cfg, err := config.Load(path)
	if err != nil {
		if ps, ok := err.(config.Problems); ok {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d problem(s):\n", path, len(ps))
			for _, p := range ps {
				fmt.Fprintln(cmd.ErrOrStderr(), "  "+p.String())
			}
			return nil, exitError{code: 2}
		}
		return nil, err
	}
	return cfg, nil
}

// newLogger builds the slog logger the config asks for.
func newLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func stderrLogger(c config.LogConfig) *slog.Logger { return newLogger(os.Stderr, c) }
