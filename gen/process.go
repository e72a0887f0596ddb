package gen

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/tributary-cdc/tributary/batch"
)

// Options shapes the generating process.
type Options struct {
	// Rows is how many rows Next spreads over the date span (default
	// 250,000). Row i of Rows falls at quantile (i+u)/Rows of the span's
	// activity curve, so dates rise monotonically and cover the span exactly.
	// Next keeps going past Rows, into the following span of the same length.
	Rows int
	// Customers is the number of distinct customers (default Rows/10, at
	// least 100).
	Customers int
	// Start is the first instant of the span (default 2023-01-01 00:00 UTC).
	Start time.Time
	// Days is the length of the span (default 730: two years).
	Days int
}

func (o Options) withDefaults() Options {
	if o.Rows <= 0 {
		o.Rows = 250000
	}
	if o.Customers <= 0 {
		o.Customers = max(100, o.Rows/10)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Days <= 0 {
		o.Days = 730
	}
	return o
}

// Row is one clean transaction.
type Row struct {
	CustomerID      int64
	Date            time.Time // UTC, whole seconds
	Amount          int64     // cents
	Age             int
	Gender          string
	TransactionType string
	Location        string
	Device          string
}

// AmountString returns the amount as a decimal string with two places.
func (r Row) AmountString() string { return string(formatCents(nil, r.Amount)) }

// customer holds a customer's stable attributes.
type customer struct {
	age    uint8
	gender uint8
	home   uint8
	device uint8
}

// Generator draws transactions from the generating process described in the
// package documentation. It is deterministic for a seed and options, and not
// safe for concurrent use.
type Generator struct {
	opts      Options
	rng       *rand.Rand
	customers []customer
	alias     aliasTable // customer activity
	cum       []float64  // cumulative activity of each hour of the span, normalized to 1
	spanSec   int64
	startSec  int64
	i         int
}

// CustomerIDBase is added to a customer's index to form its ID.
const CustomerIDBase = 100001

// NewGenerator returns the generating process for seed and opts.
func NewGenerator(seed int64, opts Options) *Generator {
	opts = opts.withDefaults()
	g := &Generator{
		opts:     opts,
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x7472696275746172)),
		startSec: opts.Start.Unix(),
		spanSec:  int64(opts.Days) * 86400,
	}
	weights := make([]float64, opts.Customers)
	g.customers = make([]customer, opts.Customers)
	for i := range g.customers {
		age := 0
		for age < 18 || age > 80 {
			age = int(math.Round(42 + 14*g.rng.NormFloat64()))
		}
		g.customers[i] = customer{
			age:    uint8(age),
			gender: uint8(pick(g.rng, genderWeights)),
			home:   uint8(pick(g.rng, locationWeights)),
			device: uint8(pick(g.rng, deviceWeights)),
		}
		weights[i] = math.Exp(1.1 * g.rng.NormFloat64()) // uneven activity: lognormal
	}
	g.alias = newAlias(weights)
	hours := opts.Days * 24
	g.cum = make([]float64, hours)
	total := 0.0
	for h := range hours {
		t := opts.Start.Add(time.Duration(h) * time.Hour)
		total += activity(t)
		g.cum[h] = total
	}
	for h := range g.cum {
		g.cum[h] /= total
	}
	return g
}

// activity is the relative rate of transactions at t: a daily curve, more
// on weekends, more in November and December, less in January.
func activity(t time.Time) float64 {
	return hourActivity[t.Hour()] * dowActivity[t.Weekday()] * monthActivity[t.Month()-1]
}

var (
	hourActivity  = [24]float64{0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.6, 0.85, 1.0, 1.1, 1.2, 1.35, 1.3, 1.15, 1.1, 1.1, 1.2, 1.4, 1.6, 1.7, 1.5, 1.05, 0.6}
	dowActivity   = [7]float64{1.25, 0.9, 0.92, 0.95, 1.0, 1.1, 1.3} // Sunday first
	monthActivity = [12]float64{0.85, 0.9, 0.95, 0.95, 1.0, 1.0, 0.95, 1.0, 1.0, 1.05, 1.3, 1.45}
)

// Next returns the next transaction in date order.
func (g *Generator) Next() Row {
	r, _ := g.next()
	return r
}

// next returns the next transaction and its expected amount.
func (g *Generator) next() (Row, float64) {
	u := (float64(g.i) + g.rng.Float64()) / float64(g.opts.Rows)
	g.i++
	period := math.Floor(u)
	u -= period
	h := sort.SearchFloat64s(g.cum, u)
	if h >= len(g.cum) {
		h = len(g.cum) - 1
	}
	lo := 0.0
	if h > 0 {
		lo = g.cum[h-1]
	}
	frac := 0.0
	if g.cum[h] > lo {
		frac = (u - lo) / (g.cum[h] - lo)
	}
	sec := g.startSec + int64(period)*g.spanSec + int64(h)*3600 + int64(frac*3600)
	return g.draw(time.Unix(sec, 0).UTC())
}

// At returns a transaction dated t (truncated to the second), drawn from the
// same process: the workload uses it for live inserts.
func (g *Generator) At(t time.Time) Row {
	r, _ := g.draw(t)
	return r
}

// draw returns a transaction dated t and its expected amount.
func (g *Generator) draw(t time.Time) (Row, float64) {
	t = t.UTC().Truncate(time.Second)
	c := int(g.alias.draw(g.rng))
	cu := g.customers[c]
	loc := int(cu.home)
	if g.rng.Float64() > 0.85 {
		loc = pick(g.rng, locationWeights)
	}
	dev := int(cu.device)
	if g.rng.Float64() > 0.7 {
		dev = pick(g.rng, deviceWeights)
	}
	typ := pick(g.rng, typeWeights)
	r := Row{
		CustomerID:      int64(c) + CustomerIDBase,
		Date:            t,
		Age:             int(cu.age),
		Gender:          Genders[cu.gender],
		TransactionType: TransactionTypes[typ],
		Location:        Locations[loc],
		Device:          Devices[dev],
	}
	mean := Mean(t, r.Age, int(cu.gender), typ, loc, dev)
	r.Amount = AmountCents(mean + NoiseSD*g.rng.NormFloat64())
	return r, mean
}

// AmountCents rounds a drawn amount to cents, with a floor of MinAmount.
func AmountCents(a float64) int64 {
	c := int64(math.Round(a * 100))
	if c < MinAmountCents {
		c = MinAmountCents
	}
	return c
}

// UpdateValues draws a new location and device for an update of a row.
func (g *Generator) UpdateValues() (location, device string, noise float64) {
	return Locations[pick(g.rng, locationWeights)], Devices[pick(g.rng, deviceWeights)], NoiseSD * g.rng.NormFloat64()
}

// Mean is the expected amount, in currency units, of a transaction at t by
// a customer of the given age and gender index, of type index typ, at
// location index loc on device index dev: the linear model of Coefficients.
// It sums in a fixed order so that results are bit-for-bit reproducible.
func Mean(t time.Time, age, gender, typ, loc, dev int) float64 {
	dt := batch.DatetimeValues(t)
	y := Intercept()
	y += AgeCoef * float64(age)
	y += GenderCoef[gender]
	y += TypeCoef[typ]
	y += LocationCoef[loc]
	y += DeviceCoef[dev]
	for i, c := range DatetimeCoef {
		y += c * dt[i]
	}
	return y
}

// Intercept is the model's intercept on raw features (days since the Unix
// epoch included): BaseAmount at TrendOrigin.
func Intercept() float64 { return BaseAmount - DatetimeCoef[6]*trendOriginDays }

var trendOriginDays = float64(TrendOrigin.Unix()) / 86400

// pick draws an index with probability proportional to weights.
func pick(rng *rand.Rand, weights []float64) int {
	u := rng.Float64()
	for i, w := range weights {
		u -= w
		if u < 0 {
			return i
		}
	}
	return len(weights) - 1
}

// aliasTable draws from a discrete distribution in O(1) (Walker/Vose).
type aliasTable struct {
	prob  []float64
	alias []int32
}

func newAlias(w []float64) aliasTable {
	n := len(w)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	t := aliasTable{prob: make([]float64, n), alias: make([]int32, n)}
	scaled := make([]float64, n)
	var small, large []int32
	for i, x := range w {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		t.prob[s] = scaled[s]
		t.alias[s] = l
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		t.prob[i] = 1
	}
	for _, i := range small {
		t.prob[i] = 1
	}
	return t
}

func (t aliasTable) draw(rng *rand.Rand) int32 {
	i := rng.IntN(len(t.prob))
	if rng.Float64() < t.prob[i] {
		return int32(i)
	}
	return t.alias[i]
}

// formatCents appends cents as a decimal string with two places.
func formatCents(b []byte, c int64) []byte {
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	b = strconv.AppendInt(b, c/100, 10)
	b = append(b, '.', byte('0'+c%100/10), byte('0'+c%10))
	return b
}
