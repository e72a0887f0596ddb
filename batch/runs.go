package batch

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// sortRecs sorts rs by (customer, time, line), splitting the work over
// workers goroutines and merging the sorted parts.
func sortRecs(rs []rec, workers int) {
	if workers < 2 || len(rs) < 1<<16 {
		slices.SortFunc(rs, func(a, b rec) int { return cmpRec(&a, &b) })
		return
	}
	mid := len(rs) / 2
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sortRecs(rs[:mid], workers/2) }()
	go func() { defer wg.Done(); sortRecs(rs[mid:], workers-workers/2) }()
	wg.Wait()
	tmp := make([]rec, len(rs))
	i, j, k := 0, mid, 0
	for i < mid && j < len(rs) {
		if cmpRec(&rs[j], &rs[i]) < 0 {
			tmp[k] = rs[j]
			j++
		} else {
			tmp[k] = rs[i]
			i++
		}
		k++
	}
	k += copy(tmp[k:], rs[i:mid])
	copy(tmp[k:], rs[j:])
	copy(rs, tmp)
}

func encodeRec(b []byte, r *rec) {
	binary.LittleEndian.PutUint64(b[0:], uint64(r.cust))
	binary.LittleEndian.PutUint64(b[8:], uint64(r.ts))
	binary.LittleEndian.PutUint64(b[16:], uint64(r.line))
	binary.LittleEndian.PutUint64(b[24:], uint64(r.cents))
	binary.LittleEndian.PutUint64(b[32:], r.hash)
	binary.LittleEndian.PutUint16(b[40:], uint16(r.age))
	for i, c := range r.cat {
		binary.LittleEndian.PutUint16(b[42+2*i:], c)
	}
}

func decodeRec(b []byte, r *rec) {
	r.cust = int64(binary.LittleEndian.Uint64(b[0:]))
	r.ts = int64(binary.LittleEndian.Uint64(b[8:]))
	r.line = int64(binary.LittleEndian.Uint64(b[16:]))
	r.cents = int64(binary.LittleEndian.Uint64(b[24:]))
	r.hash = binary.LittleEndian.Uint64(b[32:])
	r.age = int16(binary.LittleEndian.Uint16(b[40:]))
	for i := range r.cat {
		r.cat[i] = binary.LittleEndian.Uint16(b[42+2*i:])
	}
}

// spill writes a sorted run to a new temporary file in dir.
func spill(dir string, rs []rec) (*os.File, error) {
	f, err := os.CreateTemp(dir, "tributary-run-*.bin")
	if err != nil {
		return nil, fmt.Errorf("spill run: %w", err)
	}
	os.Remove(f.Name()) // unlinked: gone when closed, even after a crash
	w := bufio.NewWriterSize(f, 1<<20)
	var b [recSize]byte
	for i := range rs {
		encodeRec(b[:], &rs[i])
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill run: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill run: %w", err)
	}
	return f, nil
}

// source yields recs in order.
type source interface {
	next(r *rec) (bool, error)
}

type sliceSource struct {
	rs []rec
	i  int
}

func (s *sliceSource) next(r *rec) (bool, error) {
	if s.i >= len(s.rs) {
		return false, nil
	}
	*r = s.rs[s.i]
	s.i++
	return true, nil
}

type fileSource struct {
	r   *bufio.Reader
	buf [recSize]byte
}

func (s *fileSource) next(r *rec) (bool, error) {
	if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("read run: %w", err)
	}
	decodeRec(s.buf[:], r)
	return true, nil
}

// merger merges sorted sources.
type merger struct {
	h mergeHeap
}

type mergeItem struct {
	r   rec
	src source
}

type mergeHeap []mergeItem

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return cmpRec(&h[i].r, &h[j].r) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newMerger(srcs []source) (*merger, error) {
	m := &merger{}
	for _, s := range srcs {
		var it mergeItem
		ok, err := s.next(&it.r)
		if err != nil {
			return nil, err
		}
		if ok {
			it.src = s
			m.h = append(m.h, it)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

func (m *merger) next(r *rec) (bool, error) {
	if len(m.h) == 0 {
		return false, nil
	}
	*r = m.h[0].r
	ok, err := m.h[0].src.next(&m.h[0].r)
	if err != nil {
		return false, err
	}
	if ok {
		heap.Fix(&m.h, 0)
	} else {
		heap.Pop(&m.h)
	}
	return true, nil
}
