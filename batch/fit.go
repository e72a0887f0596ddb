package batch

import (
	"math"
	"sort"
)

// Scale is a fitted z-score: z = (x − Mean) / Std.
type Scale struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int64   `json:"n"`
}

// Z returns the z-score of x; 0 when Std is 0.
func (s Scale) Z(x float64) float64 {
	if s.Std == 0 {
		return 0
	}
	return (x - s.Mean) / s.Std
}

// fitted holds what the first pass fixes for the second: imputation values,
// outlier fences and scales.
type fitted struct {
	ageMedian int
	age       Scale
	amount    Scale   // over non-outlier amounts, in currency units
	q1, q3    float64 // amount quartiles, currency units
	low, high int64   // outlier fences, cents: outside is an outlier
	fill      [4]string
	fillKind  [4]string // "unknown" or "mode"
	levels    [4][]string
}

func fit(o *Options, st *pass1Stats, d *dicts) fitted {
	var f fitted
	// Age: median, mean and deviation of the valid ages.
	var n, sum, sum2 float64
	for a, c := range st.ageHist {
		n += float64(c)
		sum += float64(a) * float64(c)
		sum2 += float64(a) * float64(a) * float64(c)
	}
	if n > 0 {
		half := (int64(n) + 1) / 2
		var acc int64
		for a, c := range st.ageHist {
			acc += c
			if acc >= half {
				f.ageMedian = a
				break
			}
		}
		f.age = meanStd(n, sum, sum2)
	} else {
		f.ageMedian = (o.AgeMin + o.AgeMax) / 2
	}
	// Amount: quartiles from the exact histogram, then fences.
	total := st.amountBelow + st.amountAbove
	for _, c := range st.amountHist {
		total += int64(c)
	}
	quantile := func(q float64) float64 {
		if total == 0 {
			return 0
		}
		k := int64(math.Round(q * float64(total-1)))
		if k < st.amountBelow {
			return -0.01
		}
		acc := st.amountBelow
		for cents, c := range st.amountHist {
			acc += int64(c)
			if acc > k {
				return float64(cents) / 100
			}
		}
		return amountHistSize / 100
	}
	f.q1, f.q3 = quantile(0.25), quantile(0.75)
	iqr := f.q3 - f.q1
	f.low = int64(math.Floor((f.q1 - o.OutlierIQR*iqr) * 100))
	f.high = int64(math.Ceil((f.q3 + o.OutlierIQR*iqr) * 100))
	n, sum, sum2 = 0, 0, 0
	for cents := max(f.low, 0); cents <= min(f.high, amountHistSize-1); cents++ {
		c := float64(st.amountHist[cents])
		x := float64(cents) / 100
		n += c
		sum += x * c
		sum2 += x * x * c
	}
	f.amount = meanStd(n, sum, sum2)
	// Categories: the fill level and the sorted levels.
	for c := range 4 {
		f.levels[c] = append([]string(nil), d.levels[c]...)
		f.fill[c], f.fillKind[c] = Unknown, "unknown"
		if o.Categorical == "mode" {
			best := ""
			var bestN int64 = -1
			for code := 1; code < len(st.catCount[c]); code++ {
				lv := d.levels[c][code-1]
				cnt := st.catCount[c][code]
				if cnt > bestN || cnt == bestN && lv < best {
					best, bestN = lv, cnt
				}
			}
			if bestN > 0 {
				f.fill[c], f.fillKind[c] = best, "mode"
			}
		}
	}
	return f
}

func meanStd(n, sum, sum2 float64) Scale {
	if n == 0 {
		return Scale{}
	}
	m := sum / n
	v := sum2/n - m*m
	if v < 0 {
		v = 0
	}
	return Scale{Mean: m, Std: math.Sqrt(v), N: int64(n)}
}

// sortedLevels returns the levels of column c seen in the input, sorted.
func (f *fitted) sortedLevels(c int) []string {
	lv := append([]string(nil), f.levels[c]...)
	sort.Strings(lv)
	return lv
}
