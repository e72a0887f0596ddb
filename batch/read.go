package batch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"time"
)

// Record is one parsed, repaired row of the seed CSV, as a database would
// store it: no imputation, no deduplication.
type Record struct {
	Line            int64 // line number in the input; the header is line 1
	CustomerID      int64
	TxnDate         time.Time // UTC
	AmountCents     int64
	Age             int    // -1 when missing, unreadable or out of range
	Gender          string // "" when missing; the others likewise
	TransactionType string
	Location        string
	Device          string
}

// ReadStats counts what ReadCSV saw.
type ReadStats struct {
	Rows       int64            `json:"rows"`     // non-blank data lines
	Parsed     int64            `json:"parsed"`   // rows handed to fn
	Rejected   int64            `json:"rejected"` // rows that could not be parsed
	ByReason   map[string]int64 `json:"rejects_by_reason"`
	BlankLines int64            `json:"blank_lines"`
}

// ReadCSV reads a CSV with the seed header sequentially and calls fn for
// every row it can parse and repair, with the same rules as Preprocess
// (ages outside 18-100 are missing). Rows it cannot parse are counted in the
// stats, not passed on. fn's error stops the read and is returned.
func ReadCSV(ctx context.Context, r io.Reader, fn func(*Record) error) (ReadStats, error) {
	o := Options{In: "-", Out: "-.csv"}
	if err := o.setDefaults(); err != nil {
		return ReadStats{}, err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return ReadStats{}, fmt.Errorf("read header: %w", err)
	}
	h, err := parseHeader(first)
	if err != nil {
		return ReadStats{}, err
	}
	p := newParser(&o, h, newDicts(), maphash.MakeSeed())
	st := ReadStats{ByReason: map[string]int64{}}
	res := &chunkResult{}
	var rec Record
	for line := int64(2); ; line++ {
		l, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return st, fmt.Errorf("line %d: longer than 1 MiB", line)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return st, fmt.Errorf("read line %d: %w", line, err)
		}
		if len(l) == 0 && err != nil {
			break
		}
		if line&0xffff == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return st, cerr
			}
		}
		l = bytes.TrimRight(l, "\r\n")
		res.recs = res.recs[:0]
		res.rejects = res.rejects[:0]
		p.parseLine(l, line, res)
		if len(res.recs) == 0 {
			continue
		}
		r := &res.recs[0]
		rec = Record{
			Line: line, CustomerID: r.cust, TxnDate: time.UnixMicro(r.ts).UTC(), AmountCents: r.cents, Age: int(r.age),
		}
		for c, dst := range [4]*string{&rec.Gender, &rec.TransactionType, &rec.Location, &rec.Device} {
			if code := r.cat[c]; code > 0 {
				*dst = p.dicts.levels[c][code-1]
			}
		}
		st.Parsed++
		if err := fn(&rec); err != nil {
			return st, err
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	st.Rows = p.st.rowsIn
	st.BlankLines = p.st.blank
	for k, v := range p.st.rejects {
		st.ByReason[k] = v
		st.Rejected += v
	}
	return st, nil
}
