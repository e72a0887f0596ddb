package batch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/internal/progress"
)

// chunkSize is the size of the blocks of whole lines parsed in parallel.
const chunkSize = 4 << 20

// maxLine bounds one line of input.
const maxLine = 64 << 20

// Preprocess cleans the CSV at o.In into o.Out, writing the rejects, the
// report and the fitted scales beside it. See the package documentation for
// what it does to each column and how it stays within bounded memory. It
// returns the report; an error means the input could not be read at all (no
// header, an I/O error) or the outputs could not be written.
func Preprocess(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if err := o.setDefaults(); err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	in, err := os.Open(o.In)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	defer in.Close()
	var size int64
	if fi, err := in.Stat(); err == nil {
		size = fi.Size()
	}
	prog := newProgress(o.Progress, size)
	defer prog.stop()

	p1, err := pass1(ctx, &o, in, prog)
	if err != nil {
		return nil, fmt.Errorf("preprocess %s: %w", o.In, err)
	}
	defer p1.close()
	f := fit(&o, p1.stats, p1.dicts)
	rep := &Report{
		Input: o.In, Output: o.Out, Rejects: o.Rejects, Scaler: o.Scaler,
		RowsIn: p1.stats.rowsIn, BlankLines: p1.stats.blank,
		RejectsByReason: p1.stats.rejects,
		Missing:         map[string]int64{},
		Repairs:         map[string]int64{},
		Imputed:         map[string]int64{},
		Imputation:      map[string]Imputation{},
		Standardization: map[string]Scale{ColAge: f.age, ColAmount: f.amount},
		Levels:          map[string][]string{},
		SortedRuns:      len(p1.runs),
		Order:           "customer_id, txn_date, source_line",
		Columns:         OutputColumns,
	}
	rep.Format, _ = outputKind(o.Out)
	for _, n := range p1.stats.rejects {
		rep.Rejected += n
	}
	for i, c := range SnakeNames {
		rep.Missing[c] = p1.stats.missing[i]
	}
	for i, n := range p1.stats.repairs {
		if n > 0 {
			rep.Repairs[RepairNames[i]] = n
		}
	}
	rep.Imputation[ColAge] = Imputation{Method: "median", Value: f.ageMedian}
	for c := range 4 {
		rep.Imputation[SnakeNames[4+c]] = Imputation{Method: f.fillKind[c], Value: f.fill[c]}
		rep.Levels[SnakeNames[4+c]] = f.sortedLevels(c)
	}
	rep.Outliers = OutlierReport{
		Column: ColAmount,
		Rule:   fmt.Sprintf("amount < Q1 - %g*IQR or amount > Q3 + %g*IQR (quartiles of all parsed amounts, exact to the cent)", o.OutlierIQR, o.OutlierIQR),
		Q1:     f.q1, Q3: f.q3, Low: float64(f.low) / 100, High: float64(f.high) / 100,
	}
	rep.Duplicates.Rule = fmt.Sprintf("exact: the same raw line; near: same customer_id, amount and transaction_type within %s of a kept row", o.NearDuplicateWindow)
	rep.Notes = []string{
		"rows are processed in (customer_id, txn_date, source_line) order after an external merge sort, so per-customer features use earlier rows only whatever the input order",
		"age and amount are standardized with the mean and population std of the valid ages and of the non-outlier amounts of the parsed rows (before duplicate removal)",
		"cust_mean_amount averages the customer's earlier non-outlier amounts",
	}

	if err := pass2(ctx, &o, p1, &f, rep, prog); err != nil {
		return nil, fmt.Errorf("preprocess %s: %w", o.In, err)
	}
	rep.Reconciled = rep.RowsIn == rep.RowsOut+rep.DuplicatesRemoved+rep.Rejected
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerSec = float64(rep.RowsIn) / rep.Seconds
	}
	if err := writeJSONFile(o.Scaler, rep.Standardization); err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	if err := writeJSONFile(o.Report, rep); err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	if !rep.Reconciled {
		return rep, fmt.Errorf("preprocess: rows do not reconcile: in %d != out %d + duplicates %d + rejected %d",
			rep.RowsIn, rep.RowsOut, rep.DuplicatesRemoved, rep.Rejected)
	}
	return rep, nil
}

// pass1Result is the sorted data and what the first pass learned.
type pass1Result struct {
	stats *pass1Stats
	dicts *dicts
	runs  []*os.File // spilled sorted runs
	last  []rec      // the last run, sorted, in memory
}

func (p *pass1Result) close() {
	for _, f := range p.runs {
		f.Close()
	}
}

func (p *pass1Result) sources() []source {
	var srcs []source
	for _, f := range p.runs {
		srcs = append(srcs, &fileSource{r: bufio.NewReaderSize(f, 1<<20)})
	}
	return append(srcs, &sliceSource{rs: p.last})
}

// pass1 reads the input in chunks of whole lines, parses them on o.Workers
// goroutines, writes rejects in line order, and sorts the parsed rows into
// runs, spilling each full run to disk.
func pass1(ctx context.Context, o *Options, in io.Reader, prog *prepProgress) (*pass1Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	br := bufio.NewReaderSize(in, 1<<16)
	first, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("header (line 1): longer than 64 KiB")
		}
		return nil, fmt.Errorf("read header: %w", err)
	}
	if len(bytes.TrimSpace(first)) == 0 {
		return nil, fmt.Errorf("header (line 1): empty file or blank header")
	}
	h, err := parseHeader(first)
	if err != nil {
		return nil, err
	}
	prog.read.Add(int64(len(first)))

	rejF, err := os.Create(o.Rejects)
	if err != nil {
		return nil, fmt.Errorf("create rejects: %w", err)
	}
	defer rejF.Close()
	rejW := bufio.NewWriterSize(rejF, 1<<16)
	rejW.WriteString("line,kind,reason,record\n")

	pool := &sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}
	work := make(chan *chunk, o.Workers)
	results := make(chan *chunkResult, o.Workers)
	readErr := make(chan error, 1)
	go func() {
		defer close(work)
		readErr <- readChunks(ctx, br, work, pool)
	}()
	d := newDicts()
	seed := maphash.MakeSeed()
	parsers := make([]*parser, o.Workers)
	var wg sync.WaitGroup
	for i := range parsers {
		parsers[i] = newParser(o, h, d, seed)
		wg.Add(1)
		go func(p *parser) {
			defer wg.Done()
			for c := range work {
				res := p.parseChunk(c)
				if cap(*c.buf) <= 2*chunkSize {
					pool.Put(c.buf)
				}
				results <- res
			}
		}(parsers[i])
	}
	go func() { wg.Wait(); close(results) }()

	res := &pass1Result{dicts: d}
	run := make([]rec, 0, min(o.RunRows, 1<<16))
	pending := map[int]*chunkResult{}
	next := 0
	var failed error
	for r := range results {
		if failed != nil {
			continue // drain
		}
		pending[r.seq] = r
		for {
			cr, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if _, err := rejW.Write(cr.rejects); err != nil {
				failed = fmt.Errorf("write rejects: %w", err)
				cancel()
				break
			}
			for len(cr.recs) > 0 {
				n := min(len(cr.recs), o.RunRows-len(run))
				run = append(run, cr.recs[:n]...)
				cr.recs = cr.recs[n:]
				if len(run) == o.RunRows {
					prog.phase.Store("sorting a run")
					sortRecs(run, o.Workers)
					f, err := spill(o.TempDir, run)
					if err != nil {
						failed = err
						cancel()
						break
					}
					res.runs = append(res.runs, f)
					run = run[:0]
					prog.phase.Store("parsing")
				}
			}
			prog.read.Add(int64(cr.bytes))
			prog.rows.Add(cr.lines)
		}
	}
	if err := <-readErr; err != nil && failed == nil {
		failed = err
	}
	if failed == nil {
		failed = ctx.Err()
	}
	if failed == nil {
		if err := rejW.Flush(); err != nil {
			failed = fmt.Errorf("write rejects: %w", err)
		} else if err := rejF.Close(); err != nil {
			failed = fmt.Errorf("write rejects: %w", err)
		}
	}
	if failed != nil {
		res.close()
		return nil, failed
	}
	prog.phase.Store("sorting")
	sortRecs(run, o.Workers)
	res.last = run
	res.stats = parsers[0].st
	for _, p := range parsers[1:] {
		res.stats.merge(p.st)
	}
	return res, nil
}

// readChunks cuts r into chunks of whole lines, numbering them from line 2.
func readChunks(ctx context.Context, r io.Reader, out chan<- *chunk, pool *sync.Pool) error {
	var carry []byte
	line := int64(2)
	for seq := 0; ; seq++ {
		bufp := pool.Get().(*[]byte)
		buf := (*bufp)[:0]
		if cap(buf) < len(carry)+chunkSize/2 {
			if len(carry) > maxLine {
				return fmt.Errorf("line %d: longer than %d MiB", line, maxLine>>20)
			}
			buf = make([]byte, 0, len(carry)+chunkSize)
		}
		buf = append(buf, carry...)
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		*bufp = buf
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("read: %w", err)
		}
		data := buf
		carry = carry[:0]
		if !eof {
			last := bytes.LastIndexByte(buf, '\n')
			if last < 0 {
				carry = append(carry, buf...)
				seq--
				continue
			}
			data = buf[:last+1]
			carry = append(carry, buf[last+1:]...)
		}
		if len(data) > 0 {
			select {
			case out <- &chunk{seq: seq, startLine: line, data: data, buf: bufp}:
			case <-ctx.Done():
				return ctx.Err()
			}
			line += int64(bytes.Count(data, []byte{'\n'}))
		}
		if eof {
			return nil
		}
	}
}

// customerState is what pass 2 remembers of the current customer.
type customerState struct {
	cust     int64
	count    int64 // kept rows so far
	sumCents int64 // of non-outlier kept rows
	nMean    int64
	lastTs   int64
	window   []rec // kept rows within the near-duplicate window
	hasCust  bool
	windowUs int64
}

// pass2 merges the sorted runs and writes the output: duplicates removed,
// values imputed, outliers flagged, features engineered and scaled.
func pass2(ctx context.Context, o *Options, p1 *pass1Result, f *fitted, rep *Report, prog *prepProgress) error {
	m, err := newMerger(p1.sources())
	if err != nil {
		return err
	}
	w, err := createOutput(o.Out)
	if err != nil {
		return err
	}
	prog.phase.Store("writing")
	prog.total.Store(rep.RowsIn - rep.Rejected)
	prog.rows.Store(0)
	batches := make(chan []OutRow, 4)
	free := make(chan []OutRow, 6)
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for b := range batches {
			if err == nil {
				err = w.Write(b)
			}
			select {
			case free <- b:
			default:
			}
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		writeErr <- err
	}()
	const batchRows = 8192
	newBatch := func() []OutRow {
		select {
		case b := <-free:
			return b[:0]
		default:
			return make([]OutRow, 0, batchRows)
		}
	}
	batch := newBatch()
	floats := make([]float64, 0, 2*batchRows)
	var st customerState
	st.windowUs = o.NearDuplicateWindow.Microseconds()
	var imputed [5]int64
	var r rec
	var loopErr error
	for i := 0; ; i++ {
		ok, err := m.next(&r)
		if err != nil {
			loopErr = err
			break
		}
		if !ok {
			break
		}
		if i&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				loopErr = err
				break
			}
			prog.rows.Store(int64(i))
		}
		if !st.hasCust || r.cust != st.cust {
			st = customerState{cust: r.cust, hasCust: true, window: st.window[:0], windowUs: st.windowUs}
		}
		// Duplicates against the customer's recent kept rows.
		j := 0
		for _, k := range st.window {
			if r.ts-k.ts <= st.windowUs {
				st.window[j] = k
				j++
			}
		}
		st.window = st.window[:j]
		dup := 0
		for k := range st.window {
			if st.window[k].hash == r.hash && st.window[k].ts == r.ts {
				dup = 1
				break
			}
		}
		if dup == 0 {
			for k := range st.window {
				if st.window[k].cents == r.cents && st.window[k].cat[1] == r.cat[1] {
					dup = 2
					break
				}
			}
		}
		switch dup {
		case 1:
			rep.Duplicates.Exact++
			continue
		case 2:
			rep.Duplicates.Near++
			continue
		}
		st.window = append(st.window, r)

		if len(batch) == batchRows {
			batches <- batch
			batch = newBatch()
			floats = make([]float64, 0, 2*batchRows)
		}
		batch = batch[:len(batch)+1]
		row := &batch[len(batch)-1]
		*row = OutRow{}
		fillRow(row, &r, f, &imputed)
		row.CustTxnCount = st.count
		if st.nMean > 0 {
			floats = append(floats, float64(st.sumCents)/float64(st.nMean)/100)
			row.CustMeanAmount = &floats[len(floats)-1]
		}
		if st.count > 0 {
			floats = append(floats, float64(r.ts-st.lastTs)/86400e6)
			row.DaysSincePrev = &floats[len(floats)-1]
		}
		st.count++
		st.lastTs = r.ts
		if !row.IsOutlier {
			st.sumCents += r.cents
			st.nMean++
		} else {
			rep.Outliers.Flagged++
		}
		rep.RowsOut++
	}
	if len(batch) > 0 && loopErr == nil {
		batches <- batch
	}
	close(batches)
	werr := <-writeErr
	if loopErr != nil {
		return loopErr
	}
	if werr != nil {
		return werr
	}
	rep.DuplicatesRemoved = rep.Duplicates.Exact + rep.Duplicates.Near
	if imputed[0] > 0 {
		rep.Imputed[ColAge] = imputed[0]
	}
	for c := range 4 {
		if imputed[1+c] > 0 {
			rep.Imputed[SnakeNames[4+c]] = imputed[1+c]
		}
	}
	return nil
}

// imputedNames[mask] lists the imputed columns of a row, by bit: age,
// gender, transaction_type, location, device.
var imputedNames = func() [32]string {
	var out [32]string
	names := []string{ColAge, ColGender, ColTransactionType, ColLocation, ColDevice}
	for m := range out {
		var parts []string
		for i, n := range names {
			if m&(1<<i) != 0 {
				parts = append(parts, n)
			}
		}
		out[m] = strings.Join(parts, ",")
	}
	return out
}()

// fillRow sets the columns of row that depend only on r.
func fillRow(row *OutRow, r *rec, f *fitted, imputed *[5]int64) {
	mask := 0
	row.CustomerID = r.cust
	row.TxnDate = r.ts
	row.Amount = float64(r.cents) / 100
	if r.age >= 0 {
		row.Age = int64(r.age)
	} else {
		row.Age = int64(f.ageMedian)
		mask |= 1
		imputed[0]++
	}
	var cats [4]string
	for c := range 4 {
		if code := r.cat[c]; code > 0 {
			cats[c] = f.levels[c][code-1]
		} else {
			cats[c] = f.fill[c]
			mask |= 2 << c
			imputed[1+c]++
		}
	}
	row.Gender, row.TransactionType, row.Location, row.Device = cats[0], cats[1], cats[2], cats[3]
	t := time.UnixMicro(r.ts).UTC()
	row.Hour = int64(t.Hour())
	wd := t.Weekday()
	row.DayOfWeek = int64(wd)
	row.Month = int64(t.Month())
	row.IsWeekend = wd == time.Saturday || wd == time.Sunday
	row.AgeZ = f.age.Z(float64(row.Age))
	row.AmountZ = f.amount.Z(row.Amount)
	row.IsOutlier = r.cents < f.low || r.cents > f.high
	row.Imputed = imputedNames[mask]
	row.SourceLine = r.line
}

// prepProgress counts what Preprocess has done and prints a line about it
// every second while work runs.
type prepProgress struct {
	size       int64
	read, rows atomic.Int64
	total      atomic.Int64
	phase      atomic.Value
	stop       func() // stops the lines
}

func newProgress(w io.Writer, size int64) *prepProgress {
	p := &prepProgress{size: size}
	p.phase.Store("parsing")
	p.stop = progress.Lines(w, p.line)
	return p
}

func (p *prepProgress) line(elapsed time.Duration) string {
	el := elapsed.Seconds()
	phase := p.phase.Load().(string)
	if tot := p.total.Load(); tot > 0 {
		return fmt.Sprintf("preprocess: %s %d/%d rows (%.0f%%), %.1fs", phase, p.rows.Load(), tot, 100*float64(p.rows.Load())/float64(tot), el)
	}
	pct := 0.0
	if p.size > 0 {
		pct = 100 * float64(p.read.Load()) / float64(p.size)
	}
	return fmt.Sprintf("preprocess: %s %d lines, %.0f MB (%.0f%%), %.0f lines/s", phase, p.rows.Load(), float64(p.read.Load())/1e6, pct, float64(p.rows.Load())/el)
}
