// Package batch is Tributary's offline tool: it cleans and featurizes the
// customer_transactions CSV (Preprocess) and fits the regression model that
// the online learner loads as its warm start (Train).
//
// # Preprocess
//
// Input is a CSV whose header names the eight columns, either as the
// original export spells them (CustomerID, Date, Amount, Age, Gender,
// TransactionType, Location, Device) or in snake_case; the output always uses
// snake_case (customer_id, txn_date, amount, age, gender, transaction_type,
// location, device), the names of the database and the learner, followed by
// the engineered columns of OutRow. Parquet output has a flat schema of plain
// types (INT64, DOUBLE, BOOLEAN, UTF-8 strings, TIMESTAMP(MICROS, UTC)).
//
// Every data line ends up in exactly one of three places, so that
// rows_in = rows_out + duplicates_removed + rejected holds exactly:
//
//   - rejects (<out>.rejects.csv: line, kind, reason, record): malformed
//     lines (wrong column count, broken quoting, invalid UTF-8) and rows that
//     cannot be repaired (customer_id, txn_date or amount missing or
//     unparsable: a row without its key or target is not guessed at);
//   - duplicates: a line identical to a kept one (exact), or a row of the
//     same customer with the same amount and transaction type within
//     NearDuplicateWindow of a kept one (near); the first in time is kept;
//   - the output, repaired: dates in any of DateFormats, amounts with
//     currency symbols, codes, thousands separators or a decimal comma, ages
//     in words or with units, categories trimmed and title-cased. Ages out
//     of [AgeMin, AgeMax] or unreadable become missing. Missing ages get the
//     median, missing categories the level Unknown or the mode. Amounts
//     outside Q1 − k·IQR, Q3 + k·IQR are flagged (is_outlier), not dropped.
//
// Engineered columns: hour, day_of_week (Sunday 0), month, is_weekend from
// txn_date in UTC; per customer, from earlier kept rows only, their count,
// the mean of their non-outlier amounts and the days since the latest;
// age_z and amount_z standardized with the fitted scales (<out>.scaler.json).
//
// Memory is bounded whatever the input size. The first pass reads the file
// in 4 MiB chunks of whole lines, parsed on all cores; its statistics are
// exact and of fixed size (a histogram of ages, one of amounts to the cent up
// to 10,000.00, level counts), so medians, quartiles and modes need no second
// read of the input. Parsed rows (56 bytes each) are sorted in runs of RunRows
// by (customer_id, txn_date, line) and runs are spilled to TempDir; the second
// pass merges the runs, so each customer's rows arrive together in time order
// whatever the order of the input. Duplicate detection then needs only the
// current customer's rows of the last NearDuplicateWindow, and the
// per-customer features only the current customer's running sums: no map of
// customers or of row fingerprints is kept. Output is written by its own
// goroutine while the merge goes on.
//
// # Train
//
// Train fits ridge regression exactly, through the normal equations (gonum
// Cholesky), on a hash-chosen training split, excluding outlier rows by
// default, and reports RMSE, MAE and R² on the holdout split, beside what the
// generator's known truth (gen's <csv>.truth.json, found through the
// preprocess report) achieves on the same rows.
//
// # MODEL FORMAT
//
// A model file is one JSON object (Model), format "tributary.model",
// format_version 1. A reader must reject other formats and versions.
//
//	{
//	  "format": "tributary.model", "format_version": 1,
//	  "created_at": "2026-01-02T03:04:05Z",
//	  "algorithm": "ridge", "lambda": 1, "target": "amount",
//	  "features": {"numeric": ["age"],
//	               "categorical": ["gender", "transaction_type", "location", "device"],
//	               "datetime": ["txn_date"]},
//	  "numeric": [{"name": "age", "mean": 42.1, "std": 13.2, "impute": 42}],
//	  "categorical": [{"name": "gender", "levels": ["Female", "Male", "Other", "Unknown"]}, ...],
//	  "datetime": [{"name": "txn_date", "parts": ["hour_sin", "hour_cos", "dow_sin", "dow_cos",
//	                "month_sin", "month_cos", "days"], "days_mean": 19723.4, "days_std": 210.7}],
//	  "feature_names": ["age", "gender=Female", ..., "txn_date.days"],
//	  "weights": {"age": 11.9, "gender=Female": -1.2, ...},
//	  "intercept": 131.2,
//	  "metrics": {"train": {"rows": .., "rmse": .., "mae": .., "r2": ..},
//	              "holdout": {...}, "truth_holdout": {...}},
//	  "training_data": {"path": "clean.parquet", "sha256": "<hex of the file>", "rows": ..,
//	                    "train_rows": .., "holdout_rows": .., "holdout_fraction": 0.2, "seed": 1,
//	                    "outliers_skipped": .., "missing_target_skipped": ..}
//	}
//
// "features" uses the learner config's names (config.FeatureConfig). The
// prediction for a row is
//
//	intercept + Σ weights[name] · x[name]   over feature_names
//
// where x is built from the row's columns:
//
//   - numeric column c: x["c"] = (v − mean) / std, with v = impute when the
//     value is missing (std 0 gives 0);
//   - categorical column c: x["c=L"] = 1 for the row's level L (a missing
//     value is the level "Unknown"), 0 for the other listed levels; a level
//     not listed sets no feature;
//   - datetime column c, in UTC: x["c.hour_sin"] = sin(2π·hour/24),
//     x["c.hour_cos"] = cos(2π·hour/24), x["c.dow_sin"], x["c.dow_cos"]
//     likewise with 2π·weekday/7 (Sunday 0), x["c.month_sin"],
//     x["c.month_cos"] with 2π·(month−1)/12, and x["c.days"] = (days since
//     1970-01-01, with a fraction − days_mean) / days_std.
//
// The weights are for these standardized features; Model.Raw gives the same
// model on raw features (the form gen's truth file uses). feature_names is
// the vector order: numeric columns, then each categorical column's levels in
// the listed order, then each datetime column's parts. Model.Encode, Predict
// and ReadModel implement this; Validate checks a file against it. Later
// versions add fields; a reader of version 1 ignores fields it does not know.
package batch
