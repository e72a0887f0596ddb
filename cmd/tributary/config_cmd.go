package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tributary-cdc/tributary/config"
	"go.yaml.in/yaml/v3"
)

func init() { commands = append(commands, newConfigCmd) }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config file and print the effective config, passwords redacted",
		Long: `Check reads the config file (--config, else $TRIBUTARY_CONFIG, else
./tributary.yaml) with its environment overrides and ${VAR} expansion.

When the config is invalid it prints every problem to stderr, one
"field: message" per line, and exits with status 1. Otherwise it prints the
effective config (defaults filled in, passwords replaced by ****) to stdout,
as YAML or, with --json, as JSON, and exits with status 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flag, _ := cmd.Flags().GetString("config")
			path := config.ResolvePath(flag)
			cfg, err := config.Load(path)
			var ps config.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					fmt.Fprintln(cmd.ErrOrStderr(), p.String())
				}
				return exitError{code: 1}
			}
			if err != nil {
				return err
			}
			out, err := renderConfig(cfg.Redacted(), asJSON)
			if err != nil {
				return fmt.Errorf("render config: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the effective config as JSON")
	return cmd
}

// renderConfig prints c in the documented key order, durations as 30s.
func renderConfig(c config.Config, asJSON bool) ([]byte, error) {
	tree := toTree(reflect.ValueOf(c))
	if asJSON {
		b, err := json.MarshalIndent(tree, "", "  ")
		return append(b, '\n'), err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(tree)); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// object is a JSON object that keeps its keys in order.
type object []member

type member struct {
	key   string
	value any
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// toTree converts a config value to objects, lists and scalars, named and
// omitted by the json tags, with durations as strings.
func toTree(v reflect.Value) any {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Struct:
		var o object
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = t.Field(i).Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			o = append(o, member{name, toTree(fv)})
		}
		if o == nil {
			o = object{}
		}
		return o
	case reflect.Slice:
		list := make([]any, v.Len())
		for i := range list {
			list[i] = toTree(v.Index(i))
		}
		return list
	default:
		return v.Interface()
	}
}

// yamlNode converts a tree to a YAML node; lists of scalars are written in
// flow style ([a, b]).
func yamlNode(v any) *yaml.Node {
	switch x := v.(type) {
	case object:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, m := range x {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: m.key}, yamlNode(m.value))
		}
		if len(x) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, item := range x {
			child := yamlNode(item)
			if child.Kind != yaml.ScalarNode {
				n.Style = 0
			}
			n.Content = append(n.Content, child)
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}
	default:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(x)}
	}
}
