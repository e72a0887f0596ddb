package change

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Marshal returns the JSON encoding of e in the Debezium envelope shape.
func Marshal(e *Event) []byte { return AppendJSON(make([]byte, 0, 512), e) }

// MarshalJSON implements json.Marshaler.
func (e *Event) MarshalJSON() ([]byte, error) { return Marshal(e), nil }

// AppendJSON appends the JSON encoding of e to dst and returns the result.
// Field order is fixed: before, after, source, op, ts_ms, transaction.
// Column values are copied verbatim; a value that is not valid JSON would
// make the output invalid, so sources must produce valid JSON values.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"before":`...)
	dst = appendRow(dst, e.Before)
	dst = append(dst, `,"after":`...)
	dst = appendRow(dst, e.After)
	dst = append(dst, `,"source":`...)
	dst = appendSource(dst, &e.Source)
	dst = append(dst, `,"op":"`...)
	dst = append(dst, byte(e.Op))
	dst = append(dst, `","ts_ms":`...)
	dst = strconv.AppendInt(dst, e.TsMs, 10)
	dst = append(dst, `,"transaction":`...)
	if e.Tx == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"id":`...)
		dst = AppendString(dst, e.Tx.ID)
		dst = append(dst, `,"total_order":`...)
		dst = strconv.AppendInt(dst, e.Tx.TotalOrder, 10)
		dst = append(dst, `,"data_collection_order":`...)
		dst = strconv.AppendInt(dst, e.Tx.DataCollectionOrder, 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendRow(dst []byte, r Row) []byte {
	if r == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	for i := range r {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, r[i].Name)
		dst = append(dst, ':')
		if len(r[i].Value) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, r[i].Value...)
		}
	}
	return append(dst, '}')
}

func appendSource(dst []byte, s *Source) []byte {
	dst = append(dst, `{"version":"`+Version+`","connector":`...)
	dst = AppendString(dst, s.Connector)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, s.Name)
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, s.TsMs, 10)
	dst = append(dst, `,"snapshot":`...)
	snap := s.Snapshot
	if snap == "" {
		snap = "false"
	}
	dst = AppendString(dst, snap)
	dst = append(dst, `,"db":`...)
	dst = AppendString(dst, s.DB)
	if s.Connector == "mysql" {
		dst = append(dst, `,"table":`...)
		dst = AppendString(dst, s.Table)
		dst = append(dst, `,"server_id":`...)
		dst = strconv.AppendUint(dst, uint64(s.ServerID), 10)
		dst = append(dst, `,"gtid":`...)
		if s.GTID == "" {
			dst = append(dst, "null"...)
		} else {
			dst = AppendString(dst, s.GTID)
		}
		dst = append(dst, `,"file":`...)
		dst = AppendString(dst, s.File)
		dst = append(dst, `,"pos":`...)
		dst = strconv.AppendUint(dst, s.Pos, 10)
		dst = append(dst, `,"row":`...)
		dst = strconv.AppendInt(dst, int64(s.Row), 10)
		return append(dst, '}')
	}
	dst = append(dst, `,"schema":`...)
	dst = AppendString(dst, s.Schema)
	dst = append(dst, `,"table":`...)
	dst = AppendString(dst, s.Table)
	dst = append(dst, `,"txId":`...)
	dst = strconv.AppendUint(dst, uint64(s.TxID), 10)
	dst = append(dst, `,"lsn":`...)
	dst = strconv.AppendUint(dst, s.LSN, 10)
	return append(dst, '}')
}

const hex = "0123456789abcdef"

// AppendString appends s to dst as a JSON string. Invalid UTF-8 is replaced
// by U+FFFD, as encoding/json does; <, > and & are not escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Unmarshal decodes a Debezium-envelope JSON document into an Event. Row
// column order is preserved. The ID, Position and TxEnd fields are not part
// of the envelope and are left zero.
func Unmarshal(data []byte, e *Event) error {
	var env struct {
		Before      json.RawMessage `json:"before"`
		After       json.RawMessage `json:"after"`
		Source      wireSource      `json:"source"`
		Op          string          `json:"op"`
		TsMs        int64           `json:"ts_ms"`
		Transaction *struct {
			ID                  string `json:"id"`
			TotalOrder          int64  `json:"total_order"`
			DataCollectionOrder int64  `json:"data_collection_order"`
		} `json:"transaction"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if len(env.Op) != 1 || !Op(env.Op[0]).Valid() {
		return fmt.Errorf("decode event: op %q is not one of c, u, d, r, t", env.Op)
	}
	var err error
	*e = Event{Op: Op(env.Op[0]), TsMs: env.TsMs}
	if e.Before, err = decodeRow(env.Before); err != nil {
		return fmt.Errorf("decode event: before: %w", err)
	}
	if e.After, err = decodeRow(env.After); err != nil {
		return fmt.Errorf("decode event: after: %w", err)
	}
	s := env.Source
	e.Source = Source{Connector: s.Connector, Name: s.Name, TsMs: s.TsMs, Snapshot: s.Snapshot,
		DB: s.DB, Schema: s.Schema, Table: s.Table, TxID: s.TxID, LSN: s.LSN,
		ServerID: s.ServerID, File: s.File, Pos: s.Pos, Row: s.Row}
	if s.GTID != nil {
		e.Source.GTID = *s.GTID
	}
	if t := env.Transaction; t != nil {
		e.Tx = &Transaction{ID: t.ID, TotalOrder: t.TotalOrder, DataCollectionOrder: t.DataCollectionOrder}
	}
	return nil
}

type wireSource struct {
	Connector string  `json:"connector"`
	Name      string  `json:"name"`
	TsMs      int64   `json:"ts_ms"`
	Snapshot  string  `json:"snapshot"`
	DB        string  `json:"db"`
	Schema    string  `json:"schema"`
	Table     string  `json:"table"`
	TxID      uint32  `json:"txId"`
	LSN       uint64  `json:"lsn"`
	ServerID  uint32  `json:"server_id"`
	GTID      *string `json:"gtid"`
	File      string  `json:"file"`
	Pos       uint64  `json:"pos"`
	Row       int     `json:"row"`
}

// decodeRow decodes a JSON object into a Row, keeping column order.
func decodeRow(raw json.RawMessage) (Row, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("row is not a JSON object")
	}
	row := Row{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		if bytes.Equal(v, []byte("null")) {
			v = nil
		}
		row = append(row, Field{Name: name, Value: []byte(v)})
	}
	return row, nil
}
