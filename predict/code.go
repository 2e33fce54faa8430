package predict

import "errors"

// CodeFeaturesOf extracts code features from a model's source.
// TODO(issue 6): wire pyast's code-features function once it lands.
func CodeFeaturesOf(src []byte) (CodeFeatures, error) {
	return nil, errors.New("code features: pyast extractor not available yet")
}
