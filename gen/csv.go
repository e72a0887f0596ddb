package gen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tributary-cdc/tributary/batch"
)

var csvHeader = batch.CSVHeader

// WriteCSV writes the seed dataset to w: a header and exactly rows data
// lines, drawn from the generating process with seed, dirtied by dirt. Of the
// lines, round(rows·(e+n)/(1+e+n)) are duplicate copies (e, n: the exact and
// near duplicate rates) of a uniformly chosen set of the other, original
// transactions. The same arguments always give the same bytes. It returns the
// truth, with its fit on the original transactions and the counts of dirt
// injected.
func WriteCSV(ctx context.Context, w io.Writer, rows int, seed int64, dirt DirtOptions) (Truth, error) {
	if rows < 0 {
		return Truth{}, fmt.Errorf("write csv: rows %d < 0", rows)
	}
	if err := dirt.validate(); err != nil {
		return Truth{}, fmt.Errorf("write csv: %w", err)
	}
	dupRate := dirt.ExactDuplicates + dirt.NearDuplicates
	copies := int(math.Round(float64(rows) * dupRate / (1 + dupRate)))
	originals := rows - copies
	g := NewGenerator(seed, Options{Rows: max(originals, 1)})
	inj := Injected{Missing: map[string]int64{}}
	d := &dirtier{o: dirt, rng: rand.New(rand.NewPCG(uint64(seed), 0x6469727479)), inj: &inj}
	sel := rand.New(rand.NewPCG(uint64(seed), 0x636f70696573))

	bw := bufio.NewWriterSize(w, 1<<20)
	for i, h := range csvHeader {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(h)
	}
	bw.WriteByte('\n')

	type pending struct {
		due  int
		line []byte
	}
	var queue []pending
	var stats truthStats
	written := 0
	var buf []byte
	emit := func(line []byte) {
		bw.Write(line)
		written++
	}
	flushDue := func() {
		for j := 0; j < len(queue); {
			if queue[j].due <= written {
				emit(queue[j].line)
				queue = append(queue[:j], queue[j+1:]...)
				continue
			}
			j++
		}
	}
	need := copies
	for i := range originals {
		if i&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return Truth{}, fmt.Errorf("write csv: %w", err)
			}
		}
		r, mean := g.next()
		stats.add(r, mean)
		if dirt.Outliers > 0 && d.rng.Float64() < dirt.Outliers {
			inj.Outliers++
			r.Amount = int64(float64(r.Amount) * (10 + 90*d.rng.Float64()))
		}
		buf = d.line(buf[:0], r, true)
		emit(buf)
		// Selection sampling (Knuth's algorithm S): exactly copies of the
		// originals get a duplicate.
		if need > 0 && sel.Float64()*float64(originals-i) < float64(need) {
			need--
			var cp []byte
			if sel.Float64()*dupRate < dirt.ExactDuplicates {
				inj.ExactDuplicates++
				cp = append([]byte(nil), buf...)
			} else {
				inj.NearDuplicates++
				nr := r
				nr.Date = r.Date.Add(time.Duration(1+sel.IntN(120)) * time.Second)
				cp = d.line(nil, nr, false)
			}
			queue = append(queue, pending{due: written + sel.IntN(20), line: cp})
		}
		flushDue()
	}
	for _, p := range queue {
		emit(p.line)
	}
	if err := bw.Flush(); err != nil {
		return Truth{}, fmt.Errorf("write csv: %w", err)
	}
	t := Truth{
		Format:    TruthFormat,
		Seed:      seed,
		Target:    batch.ColAmount,
		Formula:   formula,
		Linear:    TruthLinear(),
		NoiseSD:   NoiseSD,
		MinAmount: MinAmountCents / 100.0,
		Lines:     int64(written),
		Dirt:      dirt,
		Injected:  inj,
	}
	stats.fill(&t)
	return t, nil
}

func (o DirtOptions) validate() error {
	for name, v := range map[string]float64{
		"missing": o.Missing, "exact_duplicates": o.ExactDuplicates, "near_duplicates": o.NearDuplicates,
		"amount_format": o.AmountFormat, "age_dirty": o.AgeDirty, "date_formats": o.DateFormats,
		"category_noise": o.CategoryNoise, "outliers": o.Outliers,
	} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return fmt.Errorf("dirt rate %s = %v, want 0..1", name, v)
		}
	}
	if o.ExactDuplicates+o.NearDuplicates > 0.5 {
		return fmt.Errorf("dirt rates exact_duplicates + near_duplicates = %v, want <= 0.5", o.ExactDuplicates+o.NearDuplicates)
	}
	return nil
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
