package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var asJSON bool
	var addr string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Ask the running daemon how it is doing (admin /status)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				cfg, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				if cfg.Admin.Listen == "" {
					return fmt.Errorf("admin.listen is empty in the config: the daemon serves no /status")
				}
				addr = cfg.Admin.Listen
			}
			client := &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Get("http://" + addr + "/status")
			if err != nil {
				return fmt.Errorf("is the daemon running? %w", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return fmt.Errorf("read /status: %w", err)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/status answered %s", resp.Status)
			}
			if asJSON {
				_, err = cmd.OutOrStdout().Write(body)
				return err
			}
			return printStatus(cmd.OutOrStdout(), body)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the /status document as JSON")
	cmd.Flags().StringVar(&addr, "addr", "", "admin address (default: admin.listen from the config)")
	return cmd
}

func printStatus(w io.Writer, body []byte) error {
	var doc struct {
		Version       string  `json:"version"`
		UptimeSeconds float64 `json:"uptime_seconds"`
		NATSURL       string  `json:"nats_url"`
		Sources       []struct {
			Name         string  `json:"name"`
			Type         string  `json:"type"`
			State        string  `json:"state"`
			Slot         string  `json:"slot"`
			ConfirmedLSN string  `json:"confirmed_lsn"`
			Position     string  `json:"position"`
			LagBytes     uint64  `json:"lag_bytes"`
			LagSeconds   float64 `json:"lag_seconds"`
			Events       uint64  `json:"events"`
			Reconnects   uint64  `json:"reconnects"`
		} `json:"sources"`
		Sinks []struct {
			Type    string `json:"type"`
			Durable uint64 `json:"durable_seq"`
		} `json:"sinks"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("decode /status: %w", err)
	}
	fmt.Fprintf(w, "tributary %s, up %s", doc.Version, time.Duration(doc.UptimeSeconds*float64(time.Second)).Round(time.Second))
	if doc.NATSURL != "" {
		fmt.Fprintf(w, ", NATS %s", doc.NATSURL)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTYPE\tSTATE\tPOSITION\tLAG\tEVENTS\tRECONNECTS")
	for _, s := range doc.Sources {
		pos := s.ConfirmedLSN
		if pos == "" {
			pos = s.Position
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d B / %.1fs\t%d\t%d\n", s.Name, s.Type, s.State, pos, s.LagBytes, s.LagSeconds, s.Events, s.Reconnects)
	}
	tw.Flush()
	for _, s := range doc.Sinks {
		fmt.Fprintf(w, "sink %s: durable through pipeline seq %d\n", s.Type, s.Durable)
	}
	return nil
}
