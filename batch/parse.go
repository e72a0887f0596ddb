package batch

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// rec is one parsed, repaired row, before imputation: the unit that is
// sorted, spilled and merged.
type rec struct {
	cust  int64
	ts    int64 // µs since the epoch, UTC
	line  int64 // line number in the input, 1-based (the header is line 1)
	cents int64
	hash  uint64 // of the raw line, for exact duplicates
	age   int16  // -1: missing
	cat   [4]uint16
}

// recSize is the size of a rec in a spilled run.
const recSize = 5*8 + 2 + 4*2

func cmpRec(a, b *rec) int {
	switch {
	case a.cust != b.cust:
		if a.cust < b.cust {
			return -1
		}
		return 1
	case a.ts != b.ts:
		if a.ts < b.ts {
			return -1
		}
		return 1
	case a.line < b.line:
		return -1
	case a.line > b.line:
		return 1
	}
	return 0
}

// The reject kinds.
const (
	rejColumns     = "wrong_column_count"
	rejQuoting     = "broken_quoting"
	rejEncoding    = "invalid_utf8"
	rejNoCustomer  = "missing_customer_id"
	rejBadCustomer = "bad_customer_id"
	rejNoDate      = "missing_txn_date"
	rejBadDate     = "bad_txn_date"
	rejNoAmount    = "missing_amount"
	rejBadAmount   = "bad_amount"
	rejTooMany     = "too_many_levels"
)

// header maps the input's columns to the canonical ones.
type header struct {
	pos     [8]int // position in the file of SnakeNames[i]
	nfields int
}

// parseHeader reads the header line. Names match CSVHeader or SnakeNames
// in any case; other columns are allowed and ignored.
func parseHeader(line []byte) (header, error) {
	line = bytes.TrimPrefix(bytes.TrimRight(line, "\r\n"), []byte("\xef\xbb\xbf"))
	fields, reason := splitRecord(line, nil, make([]byte, 0, len(line)))
	if reason != "" {
		return header{}, fmt.Errorf("header (line 1): %s", reason)
	}
	h := header{nfields: len(fields)}
	for i := range h.pos {
		h.pos[i] = -1
	}
	key := func(s string) string {
		return strings.NewReplacer("_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	}
	for j, f := range fields {
		k := key(string(f))
		for i := range SnakeNames {
			if k == key(SnakeNames[i]) || k == key(CSVHeader[i]) {
				if h.pos[i] >= 0 {
					return header{}, fmt.Errorf("header (line 1): column %s appears twice", CSVHeader[i])
				}
				h.pos[i] = j
			}
		}
	}
	var missing []string
	for i, p := range h.pos {
		if p < 0 {
			missing = append(missing, CSVHeader[i])
		}
	}
	if len(missing) > 0 {
		return header{}, fmt.Errorf("header (line 1): missing columns %s", strings.Join(missing, ", "))
	}
	return h, nil
}

// dicts holds the levels of the four categorical columns. Code 0 is
// missing; levels[c][code-1] is the level.
type dicts struct {
	mu     sync.Mutex
	codes  [4]map[string]uint16
	levels [4][]string
}

func newDicts() *dicts {
	d := &dicts{}
	for i := range d.codes {
		d.codes[i] = map[string]uint16{}
	}
	return d
}

func (d *dicts) code(col int, level string) (uint16, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.codes[col][level]; ok {
		return c, true
	}
	if len(d.levels[col]) >= 65535 {
		return 0, false
	}
	d.levels[col] = append(d.levels[col], level)
	c := uint16(len(d.levels[col]))
	d.codes[col][level] = c
	return c, true
}

type catEntry struct {
	code    uint16
	changed bool
}

// pass1Stats is what the first pass learns; each worker has its own and
// they are merged at the end.
type pass1Stats struct {
	rowsIn, blank int64
	missing       [8]int64
	repairs       [numRepairs]int64
	rejects       map[string]int64
	ageHist       [256]int64 // valid ages
	amountHist    []int32    // cents in [0, amountHistSize)
	amountBelow   int64      // cents < 0
	amountAbove   int64      // cents >= amountHistSize
	catCount      [4][]int64 // by code
}

// amountHistSize bounds the exact amount histogram: one bin per cent up to
// 10,000.00.
const amountHistSize = 1_000_000

func newPass1Stats() *pass1Stats {
	return &pass1Stats{rejects: map[string]int64{}, amountHist: make([]int32, amountHistSize)}
}

func (s *pass1Stats) merge(o *pass1Stats) {
	s.rowsIn += o.rowsIn
	s.blank += o.blank
	for i := range s.missing {
		s.missing[i] += o.missing[i]
	}
	for i := range s.repairs {
		s.repairs[i] += o.repairs[i]
	}
	for k, v := range o.rejects {
		s.rejects[k] += v
	}
	for i := range s.ageHist {
		s.ageHist[i] += o.ageHist[i]
	}
	for i, v := range o.amountHist {
		s.amountHist[i] += v
	}
	s.amountBelow += o.amountBelow
	s.amountAbove += o.amountAbove
	for c := range s.catCount {
		for len(s.catCount[c]) < len(o.catCount[c]) {
			s.catCount[c] = append(s.catCount[c], 0)
		}
		for i, v := range o.catCount[c] {
			s.catCount[c][i] += v
		}
	}
}

// parser parses chunks of lines; one per worker.
type parser struct {
	o       *Options
	h       header
	dicts   *dicts
	seed    maphash.Seed
	st      *pass1Stats
	cache   [4]map[string]catEntry
	fields  [][]byte
	scratch []byte
}

func newParser(o *Options, h header, d *dicts, seed maphash.Seed) *parser {
	p := &parser{o: o, h: h, dicts: d, seed: seed, st: newPass1Stats()}
	for i := range p.cache {
		p.cache[i] = map[string]catEntry{}
	}
	return p
}

// chunk is a run of whole lines of the input.
type chunk struct {
	seq       int
	startLine int64
	data      []byte
	buf       *[]byte // returned to the pool when parsed
}

type chunkResult struct {
	seq     int
	recs    []rec
	rejects []byte // rejects CSV lines
	bytes   int
	lines   int64
}

// parseChunk parses every line of c.
func (p *parser) parseChunk(c *chunk) *chunkResult {
	res := &chunkResult{seq: c.seq, bytes: len(c.data), recs: make([]rec, 0, len(c.data)/64)}
	data := c.data
	line := c.startLine
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		p.parseLine(l, line, res)
		line++
		res.lines++
	}
	return res
}

func (p *parser) reject(res *chunkResult, raw []byte, line int64, kind, reason string) {
	p.st.rejects[kind]++
	b := res.rejects
	b = strconv.AppendInt(b, line, 10)
	b = append(b, ',')
	b = append(b, kind...)
	b = append(b, ',')
	b = appendCSVField(b, reason)
	b = append(b, ',')
	b = appendCSVField(b, string(raw))
	res.rejects = append(b, '\n')
}

func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\n\r") {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func quote(b []byte) string {
	if len(b) > 40 {
		b = append(b[:37:37], "..."...)
	}
	return strconv.Quote(string(b))
}

func (p *parser) parseLine(l []byte, line int64, res *chunkResult) {
	if len(bytes.TrimSpace(l)) == 0 {
		p.st.blank++
		return
	}
	p.st.rowsIn++
	if !utf8.Valid(l) {
		p.reject(res, l, line, rejEncoding, "line is not valid UTF-8")
		return
	}
	if cap(p.scratch) < len(l) {
		p.scratch = make([]byte, 0, 2*len(l))
	}
	var reason string
	p.fields, reason = splitRecord(l, p.fields, p.scratch)
	if reason != "" {
		p.reject(res, l, line, rejQuoting, reason)
		return
	}
	if len(p.fields) != p.h.nfields {
		p.reject(res, l, line, rejColumns, fmt.Sprintf("wrong column count: got %d, want %d", len(p.fields), p.h.nfields))
		return
	}
	var f [8][]byte
	for i, pos := range p.h.pos {
		f[i] = p.fields[pos]
	}
	var miss [8]bool
	for i := range f {
		if IsMissing(f[i]) {
			miss[i] = true
			p.st.missing[i]++
		}
	}
	r := rec{line: line, age: -1}
	var rep Repair
	var rk, rr string
	// Key and target: a row without them cannot be repaired.
	switch {
	case miss[0]:
		rk, rr = rejNoCustomer, "customer_id is missing"
	default:
		t := bytes.TrimSpace(f[0])
		if len(t) != len(f[0]) {
			rep |= RepairWhitespace
		}
		n, ok := ParseInt(t)
		if !ok {
			rk, rr = rejBadCustomer, "customer_id "+quote(f[0])+" is not an integer"
		}
		r.cust = n
	}
	if rk == "" {
		if miss[1] {
			rk, rr = rejNoDate, "txn_date is missing"
		} else if ts, rp, ok := ParseDate(f[1]); !ok {
			rk, rr = rejBadDate, "txn_date "+quote(f[1])+" is not a date in a known format"
		} else {
			r.ts, rep = ts, rep|rp
		}
	}
	if rk == "" {
		if miss[2] {
			rk, rr = rejNoAmount, "amount is missing"
		} else if c, rp, ok := ParseAmount(f[2]); !ok {
			rk, rr = rejBadAmount, "amount "+quote(f[2])+" is not a number"
		} else {
			r.cents, rep = c, rep|rp
		}
	}
	if rk != "" {
		p.reject(res, l, line, rk, rr)
		return
	}
	if !miss[3] {
		age, rp, ok := ParseAge(f[3])
		switch {
		case !ok:
			rep |= rp | RepairAgeUnparsable
		case age < p.o.AgeMin || age > p.o.AgeMax:
			rep |= rp | RepairAgeOutOfRange
		default:
			rep |= rp
			r.age = int16(age)
		}
	}
	for c := range 4 {
		if miss[4+c] {
			continue
		}
		raw := f[4+c]
		e, ok := p.cache[c][string(raw)]
		if !ok {
			norm, changed := NormalizeCategory(raw)
			code, ok := p.dicts.code(c, norm)
			if !ok {
				p.reject(res, l, line, rejTooMany, SnakeNames[4+c]+" has more than 65535 distinct levels")
				return
			}
			e = catEntry{code: code, changed: changed}
			if len(p.cache[c]) < 4096 {
				p.cache[c][string(raw)] = e
			}
		}
		if e.changed {
			rep |= RepairCategory
		}
		r.cat[c] = e.code
	}
	// Statistics for imputation, outliers and scaling.
	if r.age >= 0 {
		p.st.ageHist[r.age]++
	}
	switch {
	case r.cents < 0:
		p.st.amountBelow++
	case r.cents >= amountHistSize:
		p.st.amountAbove++
	default:
		p.st.amountHist[r.cents]++
	}
	for c := range 4 {
		cc := p.st.catCount[c]
		for int(r.cat[c]) >= len(cc) {
			cc = append(cc, 0)
		}
		cc[r.cat[c]]++
		p.st.catCount[c] = cc
	}
	for rep != 0 {
		bit := rep & -rep
		p.st.repairs[bitIndex(bit)]++
		rep &^= bit
	}
	r.hash = maphash.Bytes(p.seed, l)
	res.recs = append(res.recs, r)
}

func bitIndex(b Repair) int {
	i := 0
	for b > 1 {
		b >>= 1
		i++
	}
	return i
}
