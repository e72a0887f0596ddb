package learner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/config"
)

// VersionFormat and VersionFormatVersion identify a saved model version; see
// VERSION FORMAT in the package documentation.
const (
	VersionFormat        = "tributary.learner-version"
	VersionFormatVersion = 1
)

// Version is one saved model version.
type Version struct {
	Format          string               `json:"format"`
	FormatVersion   int                  `json:"format_version"`
	Learner         string               `json:"learner"`
	Version         uint64               `json:"version"`
	Parent          uint64               `json:"parent"`
	CreatedAt       time.Time            `json:"created_at"`
	Algorithm       string               `json:"algorithm"`
	Hyperparameters Hyperparameters      `json:"hyperparameters"`
	Source          string               `json:"source"`
	Table           string               `json:"table"`
	Target          string               `json:"target"`
	Features        config.FeatureConfig `json:"features"`
	FeatureSpecHash string               `json:"feature_spec_hash"`
	// FeatureNames is the feature vector's order; Weights and FeatureStats
	// are by name. The prediction is Intercept + Σ Weights[f]·x[f] on raw
	// feature values (see the package documentation).
	FeatureNames []string               `json:"feature_names"`
	Intercept    float64                `json:"intercept"`
	Weights      map[string]float64     `json:"weights"`
	FeatureStats map[string]FeatureStat `json:"feature_stats"`
	Counts       Counts                 `json:"counts"`
	// Position is the source position of the last event learned and
	// StreamSeq its JetStream sequence: the version holds every event of
	// the learner's subject up to StreamSeq, each applied once.
	Position       Position       `json:"position"`
	StreamSeq      uint64         `json:"stream_seq"`
	Metrics        Metrics        `json:"metrics"`
	Approximations []string       `json:"approximations,omitempty"`
	WarmStart      *WarmStartInfo `json:"warm_start,omitempty"`
	// State is everything needed to resume learning exactly where this
	// version stopped.
	State    State  `json:"state"`
	Checksum string `json:"checksum"`
}

// Hyperparameters are the algorithm's settings.
type Hyperparameters struct {
	L2            float64 `json:"l2"`
	LearningRate  float64 `json:"learning_rate,omitempty"`
	RollingWindow int     `json:"rolling_window"`
}

// State is the resumable state of a learner.
type State struct {
	Featurizer  featurizerState  `json:"featurizer"`
	Ridge       *ridgeState      `json:"ridge,omitempty"`
	SGD         *sgdState        `json:"sgd,omitempty"`
	Prequential prequentialState `json:"prequential"`
	Warm        *warmState       `json:"warm,omitempty"`
	// Snapshot is the PostgreSQL snapshot (consistent point) whose reads
	// the model holds; reads of another one restate the table.
	Snapshot string `json:"snapshot,omitempty"`
}

// approximations are stated in every version of an algorithm.
var approximations = map[string][]string{
	config.AlgorithmSGD: {
		"deletes and the before images of updates are unlearned with one reverse gradient step at the current weights (exact for the running means, approximate for the weights)",
		"a truncate cannot be unlearned: the model is kept and counts.truncates_not_unlearned counts it",
		"a PostgreSQL snapshot taken again cannot be unlearned: its reads are learned on top and counts.snapshot_retakes counts it",
		"a missing numeric value is imputed with the running mean at the time it is read",
	},
	config.AlgorithmRidge: {
		"a missing numeric value is imputed with the running mean at the time it is read, so a row with a missing value is not removed exactly",
		"predictions published before each insert is learned use weights solved at most max(1, min(n/100, 1000)) changes earlier",
	},
}

// SpecHash returns the hash of what makes features comparable between
// versions: the target, the columns by kind and the datetime encoding.
func SpecHash(target string, f config.FeatureConfig) string {
	body, _ := json.Marshal(struct {
		Target        string               `json:"target"`
		Features      config.FeatureConfig `json:"features"`
		DatetimeParts []string             `json:"datetime_parts"`
		Missing       string               `json:"missing_level"`
	}{target, f, DatetimeParts, Unknown})
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Snapshot returns the learner's current state as version number v, whose
// parent is the newest version saved so far. Call Saved once it is stored.
func (l *Learner) Snapshot(v uint64) (*Version, error) {
	icpt, w, stats, err := l.weights()
	if err != nil {
		return nil, err
	}
	names := append([]string{}, l.feat.Names()...)
	ver := &Version{
		Format: VersionFormat, FormatVersion: VersionFormatVersion,
		Learner: l.cfg.Name, Version: v, Parent: l.version, CreatedAt: now(),
		Algorithm:       l.cfg.Algorithm,
		Hyperparameters: Hyperparameters{L2: l.cfg.L2, RollingWindow: l.cfg.RollingWindow},
		Source:          l.cfg.Source, Table: l.cfg.Table, Target: l.cfg.Target,
		Features: l.cfg.Features, FeatureSpecHash: SpecHash(l.cfg.Target, l.cfg.Features),
		FeatureNames: names, Intercept: icpt, Weights: map[string]float64{}, FeatureStats: map[string]FeatureStat{},
		Counts: l.Counts(), Position: l.pos, StreamSeq: l.seq, Metrics: l.eval.Metrics(),
		Approximations: approximations[l.cfg.Algorithm], WarmStart: l.warmStart,
	}
	if l.sgd != nil {
		ver.Hyperparameters.LearningRate = l.cfg.LearningRate
	}
	for j, n := range names {
		ver.Weights[n] = w[j]
		ver.FeatureStats[n] = stats[j]
	}
	ver.State = State{Featurizer: l.feat.state(), Prequential: l.eval.state(), Snapshot: l.snapshot}
	if l.ridge != nil {
		ver.State.Ridge = l.ridge.state()
	} else {
		ver.State.SGD = l.sgd.state()
	}
	if l.warm != nil {
		ver.State.Warm = l.warm.state(names)
	}
	return ver, nil
}

// Saved records that version v is stored: it is the parent of the next.
func (l *Learner) Saved(v uint64) { l.version = v }

// Restore returns a learner for cfg resumed from version v. The version must
// belong to a learner of the same name, algorithm, target and features.
func Restore(cfg config.LearnerConfig, v *Version) (*Learner, error) {
	if err := compatible(cfg, v); err != nil {
		return nil, err
	}
	l, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := l.feat.restore(v.State.Featurizer, v.FeatureNames); err != nil {
		return nil, fmt.Errorf("learner %s: version %d: %w", cfg.Name, v.Version, err)
	}
	switch {
	case l.ridge != nil && v.State.Ridge != nil:
		r, err := restoreRidge(v.State.Ridge)
		if err != nil {
			return nil, fmt.Errorf("learner %s: version %d: %w", cfg.Name, v.Version, err)
		}
		r.lambda = cfg.L2
		l.ridge, l.algo = r, r
	case l.sgd != nil && v.State.SGD != nil:
		m, err := restoreSGD(v.State.SGD)
		if err != nil {
			return nil, fmt.Errorf("learner %s: version %d: %w", cfg.Name, v.Version, err)
		}
		m.eta, m.l2 = cfg.LearningRate, cfg.L2
		l.sgd, l.algo = m, m
	case v.State.Warm != nil && v.State.Ridge == nil && v.State.SGD == nil:
		// A warm-start version: weights only.
		if l.sgd != nil {
			l.sgd.grow(len(v.FeatureNames))
			for j, n := range v.FeatureNames {
				l.sgd.w[j] = v.State.Warm.Weights[n]
			}
			l.sgd.y.Mean = v.State.Warm.Intercept
		}
	default:
		return nil, fmt.Errorf("learner %s: version %d has no %s state", cfg.Name, v.Version, cfg.Algorithm)
	}
	if v.State.Warm != nil {
		l.warm = v.State.Warm.weights(v.FeatureNames)
	}
	l.eval.restore(v.State.Prequential)
	l.counts = v.Counts
	if l.counts.Missing == nil {
		l.counts.Missing = map[string]int64{}
	}
	l.seq, l.pos, l.version, l.warmStart = v.StreamSeq, v.Position, v.Version, v.WarmStart
	l.snapshot = v.State.Snapshot
	return l, nil
}

// compatible reports why version v cannot be resumed by a learner of cfg.
func compatible(cfg config.LearnerConfig, v *Version) error {
	switch {
	case v.Learner != cfg.Name:
		return fmt.Errorf("version %d belongs to learner %q, not %q", v.Version, v.Learner, cfg.Name)
	case v.Algorithm != cfg.Algorithm:
		return fmt.Errorf("learner %s: version %d is %s, the config says %s: remove the learner's versions (or rename it) to change algorithm", cfg.Name, v.Version, v.Algorithm, cfg.Algorithm)
	case v.FeatureSpecHash != SpecHash(cfg.Target, cfg.Features):
		return fmt.Errorf("learner %s: version %d was learned with target %s and features %s; the config now says target %s and features %s: rename the learner to start afresh",
			cfg.Name, v.Version, v.Target, specString(v.Features), cfg.Target, specString(cfg.Features))
	}
	return nil
}

func specString(f config.FeatureConfig) string {
	return fmt.Sprintf("numeric [%s] categorical [%s] datetime [%s]", strings.Join(f.Numeric, ", "), strings.Join(f.Categorical, ", "), strings.Join(f.Datetime, ", "))
}

// canonical returns the canonical body of v: its compact JSON encoding with
// an empty checksum. encoding/json writes struct fields in order, map keys
// sorted and floats in their shortest exact form, so decoding and encoding
// again gives the same bytes.
func (v *Version) canonical() ([]byte, error) {
	c := *v
	c.Checksum = ""
	return json.Marshal(&c)
}

// Encode returns v as indented JSON with its checksum set.
func (v *Version) Encode() ([]byte, error) {
	body, err := v.canonical()
	if err != nil {
		return nil, fmt.Errorf("encode version %d: %w", v.Version, err)
	}
	sum := sha256.Sum256(body)
	v.Checksum = "sha256:" + hex.EncodeToString(sum[:])
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode version %d: %w", v.Version, err)
	}
	return append(out, '\n'), nil
}

// DecodeVersion parses a saved version and verifies its format and
// checksum.
func DecodeVersion(data []byte) (*Version, error) {
	var v Version
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode version: %w", err)
	}
	if v.Format != VersionFormat || v.FormatVersion != VersionFormatVersion {
		return nil, fmt.Errorf("decode version: format %q version %d, want %q version %d", v.Format, v.FormatVersion, VersionFormat, VersionFormatVersion)
	}
	body, err := v.canonical()
	if err != nil {
		return nil, fmt.Errorf("decode version %d: %w", v.Version, err)
	}
	sum := sha256.Sum256(body)
	if want := "sha256:" + hex.EncodeToString(sum[:]); v.Checksum != want {
		return nil, fmt.Errorf("decode version %d of %s: checksum %s does not match the content (%s): the file is damaged or was edited", v.Version, v.Learner, v.Checksum, want)
	}
	if len(v.Weights) != len(v.FeatureNames) {
		return nil, fmt.Errorf("decode version %d of %s: %d weights for %d features", v.Version, v.Learner, len(v.Weights), len(v.FeatureNames))
	}
	return &v, nil
}

// WeightChange is the change of one feature's weight between two versions.
type WeightChange struct {
	Feature string  `json:"feature"`
	From    float64 `json:"from"`
	To      float64 `json:"to"`
	Delta   float64 `json:"delta"`
	// Scaled is Delta times the feature's spread (its standard deviation in
	// the newer version): the change in the prediction a typical deviation
	// of the feature makes. Changes are ranked by its size.
	Scaled float64 `json:"scaled"`
}

// Diff is the difference between two versions.
type Diff struct {
	From, To       uint64         `json:"-"`
	MetricDeltas   Metrics        `json:"metric_deltas"`
	InterceptDelta float64        `json:"intercept_delta"`
	Weights        []WeightChange `json:"weights"`
	CountDeltas    Counts         `json:"count_deltas"`
}

// Compare returns the metric deltas (b − a) and the weight changes from a
// to b, largest first.
func Compare(a, b *Version) Diff {
	d := Diff{From: a.Version, To: b.Version, InterceptDelta: b.Intercept - a.Intercept}
	sub := func(x, y Scores) Scores {
		return Scores{N: x.N - y.N, MAE: x.MAE - y.MAE, RMSE: x.RMSE - y.RMSE, R2: x.R2 - y.R2}
	}
	d.MetricDeltas = Metrics{Cumulative: sub(b.Metrics.Cumulative, a.Metrics.Cumulative), Rolling: sub(b.Metrics.Rolling, a.Metrics.Rolling), Window: b.Metrics.Window}
	d.CountDeltas = Counts{Inserts: b.Counts.Inserts - a.Counts.Inserts, SnapshotReads: b.Counts.SnapshotReads - a.Counts.SnapshotReads,
		Updates: b.Counts.Updates - a.Counts.Updates, Deletes: b.Counts.Deletes - a.Counts.Deletes, Truncates: b.Counts.Truncates - a.Counts.Truncates,
		UpdatesNotUnlearned: b.Counts.UpdatesNotUnlearned - a.Counts.UpdatesNotUnlearned, DeletesNotUnlearned: b.Counts.DeletesNotUnlearned - a.Counts.DeletesNotUnlearned,
		TruncatesNotUnlearned: b.Counts.TruncatesNotUnlearned - a.Counts.TruncatesNotUnlearned}
	seen := map[string]bool{}
	for _, names := range [][]string{b.FeatureNames, a.FeatureNames} {
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			from, to := a.Weights[n], b.Weights[n]
			std := b.FeatureStats[n].Std
			if _, ok := b.FeatureStats[n]; !ok {
				std = a.FeatureStats[n].Std
			}
			d.Weights = append(d.Weights, WeightChange{Feature: n, From: from, To: to, Delta: to - from, Scaled: (to - from) * std})
		}
	}
	sort.SliceStable(d.Weights, func(i, j int) bool {
		return abs(d.Weights[i].Scaled) > abs(d.Weights[j].Scaled)
	})
	return d
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
