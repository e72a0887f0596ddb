package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-cdc/tributary/change"
)

// The record headers every event carries.
const (
	HeaderID = "tributary-id" // the event's deterministic ID
	HeaderOp = "tributary-op" // c, u, d, r or t
	HeaderTx = "tributary-tx" // the transaction ID, when the event has one
)

// AppendKey appends the record key of ev to dst: a JSON object of the
// columns cols with their values, taken from the after image or, when there
// is none, from the before image. It returns dst unchanged and false when
// the image lacks one of the columns or the event has no image (a truncate):
// such a record has no key.
func AppendKey(dst []byte, ev *change.Event, cols []string) ([]byte, bool) {
	img := ev.After
	if img == nil {
		img = ev.Before
	}
	if img == nil || len(cols) == 0 {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, '{')
	for i, c := range cols {
		v, ok := img.Get(c)
		if !ok {
			return dst[:start], false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = change.AppendString(dst, c)
		dst = append(dst, ':')
		if len(v) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, v...)
		}
	}
	return append(dst, '}'), true
}

// partitioner sends a keyed record where Kafka's Java client would (murmur2
// of the key, modulo the partition count) and every keyless record to
// partition 0, so that the keyless events of a table keep their order.
func partitioner() kgo.Partitioner {
	keyed := kgo.StickyKeyPartitioner(nil)
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		tp := keyed.ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Key == nil {
				return 0
			}
			return tp.Partition(r, n)
		}
	})
}
