package gen

import (
	"math/rand/v2"
	"strings"
)

// DirtOptions sets how dirty WriteCSV makes its output. Each field is a rate
// in [0, 1]; the zero value writes a clean file.
type DirtOptions struct {
	// Missing is the chance that any one field of a line is missing
	// (written empty, or as NA, null, N/A).
	Missing float64 `json:"missing"`
	// ExactDuplicates is the share of lines that are byte-for-byte copies
	// of an earlier line, placed up to 20 lines after it.
	ExactDuplicates float64 `json:"exact_duplicates"`
	// NearDuplicates is the share of lines that repeat an earlier
	// transaction with small differences: 1-120 s later, the fields written
	// in other formats, case and spacing, the same amount.
	NearDuplicates float64 `json:"near_duplicates"`
	// AmountFormat is the chance an amount carries a currency symbol or code
	// or thousands separators.
	AmountFormat float64 `json:"amount_format"`
	// AgeDirty is the chance an age is out of range (half of these) or
	// written as text (words, "34 years", "34.0").
	AgeDirty float64 `json:"age_dirty"`
	// DateFormats is the chance a date is written in a non-canonical format
	// (RFC 3339, US, European, slashes, Unix seconds).
	DateFormats float64 `json:"date_formats"`
	// CategoryNoise is the chance a category has stray case or whitespace.
	CategoryNoise float64 `json:"category_noise"`
	// Outliers is the chance an amount is multiplied by 10-100 (a data
	// entry error).
	Outliers float64 `json:"outliers"`
}

// DefaultDirt returns the dirt rates of the seed dataset.
func DefaultDirt() DirtOptions {
	return DirtOptions{
		Missing:         0.01,
		ExactDuplicates: 0.01,
		NearDuplicates:  0.01,
		AmountFormat:    0.05,
		AgeDirty:        0.02,
		DateFormats:     0.10,
		CategoryNoise:   0.05,
		Outliers:        0.002,
	}
}

// Injected counts the dirt WriteCSV put in, by kind.
type Injected struct {
	Missing         map[string]int64 `json:"missing"` // by CSV column
	ExactDuplicates int64            `json:"exact_duplicates"`
	NearDuplicates  int64            `json:"near_duplicates"`
	AmountFormat    int64            `json:"amount_format"`
	AgeOutOfRange   int64            `json:"age_out_of_range"`
	AgeText         int64            `json:"age_text"`
	DateFormats     int64            `json:"date_formats"`
	CategoryNoise   int64            `json:"category_noise"`
	Outliers        int64            `json:"outliers"`
}

// dirtier renders rows as CSV lines with dirt.
type dirtier struct {
	o   DirtOptions
	rng *rand.Rand
	inj *Injected
}

var missingTokens = []string{"", "", "", "", "NA", "null", "N/A"}

// line appends row r to b as one CSV line (with its newline). fresh is
// false for a near-duplicate copy, which gets format dirt but no missing
// values.
func (d *dirtier) line(b []byte, r Row, fresh bool) []byte {
	miss := func(col int) bool {
		if !fresh || d.o.Missing == 0 || d.rng.Float64() >= d.o.Missing {
			return false
		}
		d.inj.Missing[csvHeader[col]]++
		return true
	}
	missTok := func() string { return missingTokens[d.rng.IntN(len(missingTokens))] }
	// CustomerID
	if miss(0) {
		b = append(b, missTok()...)
	} else {
		b = appendInt(b, r.CustomerID)
	}
	b = append(b, ',')
	// Date
	if miss(1) {
		b = append(b, missTok()...)
	} else {
		b = d.date(b, r)
	}
	b = append(b, ',')
	// Amount
	if miss(2) {
		b = append(b, missTok()...)
	} else {
		b = d.amount(b, r.Amount)
	}
	b = append(b, ',')
	// Age
	if miss(3) {
		b = append(b, missTok()...)
	} else {
		b = d.age(b, r.Age)
	}
	for i, v := range [4]string{r.Gender, r.TransactionType, r.Location, r.Device} {
		b = append(b, ',')
		if miss(4 + i) {
			b = append(b, missTok()...)
		} else {
			b = d.category(b, v)
		}
	}
	return append(b, '\n')
}

func (d *dirtier) date(b []byte, r Row) []byte {
	t := r.Date
	if d.o.DateFormats == 0 || d.rng.Float64() >= d.o.DateFormats {
		return t.AppendFormat(b, "2006-01-02 15:04:05")
	}
	d.inj.DateFormats++
	switch d.rng.IntN(5) {
	case 0:
		return t.AppendFormat(b, "2006-01-02T15:04:05Z")
	case 1:
		return t.AppendFormat(b, "01/02/2006 15:04:05")
	case 2:
		return t.AppendFormat(b, "02.01.2006 15:04:05")
	case 3:
		return t.AppendFormat(b, "2006/01/02 15:04:05")
	default:
		return appendInt(b, t.Unix())
	}
}

func (d *dirtier) amount(b []byte, cents int64) []byte {
	if d.o.AmountFormat == 0 || d.rng.Float64() >= d.o.AmountFormat {
		return formatCents(b, cents)
	}
	d.inj.AmountFormat++
	var num []byte
	if cents >= 100000 || d.rng.IntN(2) == 0 {
		num = thousands(formatCents(nil, cents))
	} else {
		num = formatCents(nil, cents)
	}
	var s string
	switch d.rng.IntN(5) {
	case 0, 1:
		s = "$" + string(num)
	case 2:
		s = "USD " + string(num)
	case 3:
		s = string(num) + " USD"
	default:
		s = "€" + string(num)
	}
	if strings.IndexByte(s, ',') >= 0 {
		return append(append(append(b, '"'), s...), '"')
	}
	return append(b, s...)
}

// thousands inserts commas into a decimal string with two places.
func thousands(s []byte) []byte {
	intPart := s[:len(s)-3]
	neg := len(intPart) > 0 && intPart[0] == '-'
	if neg {
		intPart = intPart[1:]
	}
	var out []byte
	if neg {
		out = append(out, '-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return append(out, s[len(s)-3:]...)
}

var (
	ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens         = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	badAges      = []string{"-1", "0", "7", "150", "999", "-34", "210"}
	ageTextForms = 4
)

func (d *dirtier) age(b []byte, age int) []byte {
	if d.o.AgeDirty == 0 || d.rng.Float64() >= d.o.AgeDirty {
		return appendInt(b, int64(age))
	}
	if d.rng.IntN(2) == 0 {
		d.inj.AgeOutOfRange++
		return append(b, badAges[d.rng.IntN(len(badAges))]...)
	}
	d.inj.AgeText++
	switch d.rng.IntN(ageTextForms) {
	case 0:
		return append(b, ageWords(age)...)
	case 1:
		return append(appendInt(b, int64(age)), ".0"...)
	case 2:
		return append(appendInt(b, int64(age)), " years"...)
	default:
		w := ageWords(age)
		return append(b, strings.ToUpper(w[:1])+strings.ReplaceAll(w[1:], "-", " ")...)
	}
}

func ageWords(n int) string {
	if n < 20 {
		return ones[n]
	}
	if n%10 == 0 {
		return tens[n/10]
	}
	return tens[n/10] + "-" + ones[n%10]
}

func (d *dirtier) category(b []byte, v string) []byte {
	if d.o.CategoryNoise == 0 || d.rng.Float64() >= d.o.CategoryNoise {
		return append(b, v...)
	}
	d.inj.CategoryNoise++
	switch d.rng.IntN(5) {
	case 0:
		return append(b, strings.ToLower(v)...)
	case 1:
		return append(b, strings.ToUpper(v)...)
	case 2:
		return append(append(b, ' '), v...)
	case 3:
		return append(append(b, v...), "  "...)
	default:
		return append(b, strings.ReplaceAll(strings.ToLower(v), " ", "  ")...)
	}
}
