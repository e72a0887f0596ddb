package learner

import (
	"strconv"
	"time"

	"github.com/tributary-cdc/tributary/change"
	"github.com/tributary-cdc/tributary/config"
	"github.com/tributary-cdc/tributary/gen"
)

// testConfig is DESIGN.md's example learner for customer_transactions.
func testConfig(algorithm string) config.LearnerConfig {
	c := config.Config{
		Sources: []config.SourceConfig{{Name: "shop", Type: "postgres", DSN: "postgres://x@y/z", Tables: []string{"public.customer_transactions"}}},
		Sinks:   []config.SinkConfig{{Type: "jetstream"}},
		Learners: []config.LearnerConfig{{
			Name: "amount", Source: "shop", Table: "public.customer_transactions", Target: "amount",
			Features: config.FeatureConfig{
				Numeric:     []string{"age"},
				Categorical: []string{"gender", "transaction_type", "location", "device"},
				Datetime:    []string{"txn_date"},
			},
			Algorithm: algorithm,
		}},
	}
	c.FillDefaults()
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c.Learners[0]
}

// genImage is the row image PostgreSQL's source writes for a generated row.
func genImage(id int64, r gen.Row) change.Row {
	q := func(s string) []byte { return change.AppendString(nil, s) }
	return change.Row{
		{Name: "id", Value: strconv.AppendInt(nil, id, 10)},
		{Name: "customer_id", Value: strconv.AppendInt(nil, r.CustomerID, 10)},
		{Name: "txn_date", Value: q(r.Date.UTC().Format("2006-01-02T15:04:05.999999Z"))},
		{Name: "amount", Value: q(r.AmountString())},
		{Name: "age", Value: strconv.AppendInt(nil, int64(r.Age), 10)},
		{Name: "gender", Value: q(r.Gender)},
		{Name: "transaction_type", Value: q(r.TransactionType)},
		{Name: "location", Value: q(r.Location)},
		{Name: "device", Value: q(r.Device)},
	}
}

func event(op change.Op, before, after change.Row) *change.Event {
	return &change.Event{Op: op, Before: before, After: after, TsMs: time.Now().UnixMilli(),
		Source: change.Source{Connector: "postgresql", Name: "shop", DB: "shop", Schema: "public", Table: "customer_transactions", TsMs: 1719743696789}}
}
