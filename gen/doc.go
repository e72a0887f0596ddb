// Package gen makes the seed data of Tributary and drives load against a
// database: the generating process of customer transactions, the dirty CSV
// writer with its truth sidecar, the loader (COPY into PostgreSQL, batched
// INSERTs into MySQL/MariaDB) and the workload driver behind `tributary gen`.
//
// # The generating process
//
// Customers (Options.Customers, default one per ten rows) have stable
// attributes drawn once: age ~ round(N(42, 14²)) kept within 18-80; gender
// Female 49%, Male 48%, Other 3%; a home location among ten US cities; a
// preferred device (Mobile 55%, Desktop 35%, Tablet 10%). Activity is uneven:
// each customer's weight is lognormal (σ = 1.1), and a transaction's customer
// is drawn in proportion to it.
//
// Dates cover Options.Days (default 730) from Options.Start (2023-01-01 UTC).
// The activity rate at an instant is the product of an hour-of-day curve
// (quiet at night, peaks at noon and 19-21 h), a day-of-week factor (weekends
// higher) and a month factor (November and December higher, January lower).
// Row i of n falls at quantile (i+u)/n of the span's cumulative activity, so
// rows come in date order and fill the span exactly.
//
// A transaction happens at the customer's home location with probability
// 0.85 (else anywhere), on the preferred device with probability 0.7 (else
// any), and its type is Purchase 60%, Subscription 15%, Gift Card 10%, Bill
// Payment 15%. Its amount is linear in the features a model sees, plus
// Gaussian noise:
//
//	amount = 90 + 0.9·age + gender + type + location + device
//	       − 4·sin(2πh/24) − 9·cos(2πh/24) − 3·sin(2πw/7) + 4·cos(2πw/7)
//	       − 3·sin(2π(m−1)/12) + 7·cos(2π(m−1)/12) + 6·years since 2023-01-01
//	       + N(0, 20²)
//
// with h the UTC hour, w the weekday (Sunday 0), m the month, and the level
// effects GenderCoef, TypeCoef, LocationCoef, DeviceCoef. The amount is
// rounded to cents and floored at 1.00. The truth sidecar (Truth) states the
// same model over batch.RawFeatures names, the noise sd, and the R², RMSE and
// MAE that the truth itself reaches on the generated rows: the best any model
// can do on them.
//
// # Dirt
//
// WriteCSV dirties its output at the rates of DirtOptions (DefaultDirt; all
// zero for a clean file): missing values in every column, exact and near
// duplicates, amounts with currency symbols and thousands separators, ages out
// of range or in words, dates in five other formats, categories with stray
// case and whitespace, and amount outliers. Dirt is drawn from its own random
// stream, and the truth's counts (Injected) say how much of each went in.
//
// # Load
//
// Load creates the table (CreateTableSQL for PostgreSQL, with REPLICA
// IDENTITY FULL; CreateTableMySQL for MySQL/MariaDB) and loads a CSV with
// COPY, or with multi-row INSERTs of 1,000 rows on MySQL. Rows are parsed and
// repaired with batch.ReadCSV; what cannot be typed (no customer, date or
// amount) is skipped and counted; optional values that are missing become
// NULL; duplicates are loaded as they are.
//
// # Workload
//
// Workload.Run paces commits with a 5 ms ticker (never catching up more than
// 100 ms at once, so a stall does not turn into a burst) and hands them to up
// to four connections, each of which pipelines what is queued with one Sync
// per transaction: each job is its own commit. It keeps the ids of live rows
// in memory (read from the table at the start, up to five million, then
// added from INSERT ... RETURNING), so updates and deletes hit existing rows
// without a query. Inserts are drawn from the generating process at the
// current time; updates set a new location and device and recompute the
// amount in SQL from the same model (UpdateSQL); deletes remove the row.
package gen
