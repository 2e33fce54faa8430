package predict

import (
	"fmt"

	"github.com/nngpt/nngpt/pyast"
)

// CodeFeaturesOf extracts code features from a model's source with pyast:
// layer counts by type, depth, widths, estimated parameters, residual,
// attention and normalisation flags and the structural family (one-hot).
// Code that does not parse gives an error; predict without code then.
func CodeFeaturesOf(src []byte) (CodeFeatures, error) {
	a := pyast.Analyze(src)
	if len(a.Syntax) > 0 {
		return nil, fmt.Errorf("code features: the code does not parse: %v", a.Syntax[0])
	}
	names := pyast.FeatureNames()
	vec := a.Features.Vector()
	cf := make(CodeFeatures, len(names))
	for i, n := range names {
		if i < len(vec) {
			cf[n] = vec[i]
		}
	}
	return cf, nil
}
