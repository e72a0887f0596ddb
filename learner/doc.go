// Package learner turns a table's change stream into an online regression
// model that is always about the table as it is now, and keeps versions of
// it that can be inspected and resumed.
//
// # Pieces
//
// A Featurizer reads the lossless values of the event format (numbers and
// decimal strings, ISO-8601 timestamps and dates, strings, null) and builds
// a sparse vector of raw features: numeric columns as they are (a missing
// value takes the running mean), one feature per categorical level (the
// vocabulary grows online; a missing value is the level Unknown), and for
// each datetime column DatetimeParts: hour, day of week and month as sin/cos
// pairs and the day count since the epoch, centred on the learner's first
// day. Missing values are counted per column.
//
// Two algorithms learn from the vectors. Ridge keeps exact sufficient
// statistics (XᵀX, Xᵀy, counts) and solves the ridge problem on
// standardized features with a Cholesky factorization; inserts and snapshot
// reads add a row, deletes subtract it, updates subtract the before image
// and add the after image, so the model equals a fit from scratch on the
// table's current rows. SGD is normalized adaptive gradient descent with
// online centring of features and target (see SGD); it unlearns with an
// approximate reverse step. A Prequential evaluator scores each insert's
// prediction before the insert is learned (cumulative and rolling MAE,
// RMSE, R²). Aggregates keep rolling averages of the target per key value.
//
// Learner ties these together and applies change events; it does no I/O.
// Runner drives a Learner from a Feed (the JetStream subject of the table,
// read by an ordered consumer from the sequence after the newest version),
// publishes a prediction event for every insert learned (and aggregates),
// saves versions to a Store over Blobs (a JetStream object store, or files
// under data_dir/models) and exports Prometheus metrics and a Status.
//
// # Ops
//
// c (insert) and r (snapshot read) are learned, after being predicted. u
// (update) unlearns the before image and learns the after image; d (delete)
// unlearns the before image. A before image that lacks any of the learner's
// columns (a PostgreSQL table without REPLICA IDENTITY FULL, a MySQL server
// without binlog_row_image=FULL) cannot be unlearned: the change is skipped
// whole, counted (updates_not_unlearned, deletes_not_unlearned) and logged,
// rather than guessed. t (truncate) resets ridge; sgd cannot unlearn it and
// counts it (truncates_not_unlearned).
//
// # Exactly once
//
// A version records the JetStream sequence of the last event it holds
// (stream_seq) with the complete state needed to go on (the ridge
// statistics or the sgd weights and accumulators, the vocabulary, the
// running means and the evaluator's sums). On start, the runner loads the
// newest version that verifies and reads from stream_seq + 1, so every
// event is in a version exactly once, whenever the process dies. Prediction
// and aggregate events published after the newest version are published
// again after a crash, with the same message IDs ("<learner>:p:<seq>",
// "<learner>:a:<seq>"), which JetStream's duplicate window drops when the
// stream stores those subjects.
//
// # Retention
//
// After each version is saved, the runner deletes the oldest versions so
// that keep_versions remain (default 100; 0 keeps all): the newest is never
// deleted, so a restart always finds it, and the version 1 a warm start
// imported is kept besides them as the batch baseline. Deleting oldest
// first leaves the newest versions whenever it stops part way; a failed
// deletion is logged and retried after the next save.
//
// # VERSION FORMAT
//
// A version is one JSON object, format "tributary.learner-version",
// format_version 1, stored as "<learner>/v<10-digit number>.json":
//
//	{
//	  "format": "tributary.learner-version", "format_version": 1,
//	  "learner": "amount", "version": 7, "parent": 6,
//	  "created_at": "2026-01-02T03:04:05.123Z",
//	  "algorithm": "ridge", "hyperparameters": {"l2": 1, "rolling_window": 1000},
//	  "source": "shop", "table": "public.customer_transactions", "target": "amount",
//	  "features": {"numeric": ["age"], "categorical": [...], "datetime": ["txn_date"]},
//	  "feature_spec_hash": "sha256:<hex>",
//	  "feature_names": ["age", "txn_date.hour_sin", ..., "txn_date.days", "gender=Female", ...],
//	  "intercept": 93.1,
//	  "weights": {"age": 0.9, "gender=Female": -1.3, ...},
//	  "feature_stats": {"age": {"mean": 42.1, "std": 13.9}, ...},
//	  "counts": {"inserts": .., "snapshot_reads": .., "updates": .., "deletes": .., "truncates": ..,
//	             "updates_not_unlearned": .., "deletes_not_unlearned": .., "truncates_not_unlearned": ..,
//	             "skipped_no_target": .., "other_tables": .., "malformed": .., "missing": {"age": 3}},
//	  "position": {"source": "shop", "connector": "postgresql", "lsn": 24023128, "lsn_text": "0/16E9058", "tx_id": 1234, "ts_ms": ..},
//	  "stream_seq": 70123,
//	  "metrics": {"cumulative": {"n": .., "mae": .., "rmse": .., "r2": ..}, "rolling": {...}, "window": 1000},
//	  "approximations": ["..."],
//	  "warm_start": {"path": "model.json", "sha256": "<hex>", "created_at": "..", "train_rows": ..},
//	  "state": {"featurizer": {...}, "ridge": {...} | "sgd": {...}, "prequential": {...}, "warm": {...}},
//	  "checksum": "sha256:<hex>"
//	}
//
// The prediction for a row is intercept + Σ weights[f]·x[f] over
// feature_names, with x the raw features: x["c"] the numeric value (missing:
// state.featurizer.numeric[c].mean), x["c=L"] = 1 for the row's level,
// x["d.hour_sin"] = sin(2π·hour/24) and likewise hour_cos, dow_sin/cos
// (2π·weekday/7, Sunday 0), month_sin/cos (2π·(month−1)/12), in UTC, and
// x["d.days"] = days since 1970-01-01 (with a fraction) −
// state.featurizer.day_center. feature_stats gives each feature's mean and
// standard deviation over the current rows (ridge) or its running mean and
// largest centred magnitude (sgd); model diff ranks weight changes by
// |Δweight|·std. feature_spec_hash covers the target, the columns by kind
// and the encoding: a learner refuses to resume a version whose hash
// differs. parent is the version this one descends from (0 for the first).
// stream_seq and position say what the version has learned through.
//
// checksum is "sha256:" and the hex SHA-256 of the canonical body: the
// compact JSON encoding (encoding/json: fields in this order, map keys
// sorted, shortest round-trip floats) of the object with checksum "". A
// reader decodes, re-encodes with checksum "" and compares; a version that
// does not verify is skipped on start (the previous one is used) and
// refused by the CLI.
package learner
