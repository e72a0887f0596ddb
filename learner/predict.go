package learner

import "github.com/tributary-cdc/tributary/change"

// Prediction is a version's prediction for one row.
type Prediction struct {
	Learner    string  `json:"learner"`
	Version    uint64  `json:"version"`
	Target     string  `json:"target"`
	Prediction float64 `json:"prediction"`
	// Imputed lists the feature columns missing from the row.
	Imputed []string `json:"imputed,omitempty"`
	// UnseenLevels lists "column=level" values the version has no weight
	// for; they set no feature.
	UnseenLevels []string `json:"unseen_levels,omitempty"`
}

// PredictVersion returns version v's prediction for a row image, using the
// version's own weights and encoding (whatever the current config says).
func PredictVersion(v *Version, img change.Row) (Prediction, error) {
	out := Prediction{Learner: v.Learner, Version: v.Version, Target: v.Target}
	feat, err := NewFeaturizer(v.Features, v.Target)
	if err != nil {
		return out, err
	}
	if err := feat.restore(v.State.Featurizer, v.FeatureNames); err != nil {
		return out, err
	}
	r := feat.newRow()
	feat.read(img, r)
	feat.missing(r, func(col string) { out.Imputed = append(out.Imputed, col) })
	for i, c := range v.Features.Categorical {
		if r.catOK[i] && feat.level(i, r.cat[i], true, false) < 0 {
			b, esc := stringBytes(r.cat[i])
			lv := string(b)
			if esc {
				lv = unquote(r.cat[i])
			}
			out.UnseenLevels = append(out.UnseenLevels, c+"="+lv)
		}
	}
	var x Vec
	feat.encode(r, &x, false)
	y := v.Intercept
	names := feat.Names()
	for k, i := range x.Idx {
		y += v.Weights[names[i]] * x.Val[k]
	}
	out.Prediction = y
	return out, nil
}
