package lemur

// A LEMUR trial's prm dict holds the model's hyperparameters (what
// supported_hyperparameters() names) and two keys the training harness
// reads itself: batch and transform. SplitPrm and JoinPrm are the one
// place that tells them apart.

// SplitPrm splits d into the model's hyperparameters, the batch size (0
// when absent or not a positive number) and the transform ("" when
// absent).
func SplitPrm(d Dict) (prm Dict, batch int, transform string) {
	if b, ok := d.Float("batch"); ok && b >= 1 {
		batch = int(b)
	}
	transform, _ = d.String("transform")
	return d.Without("batch", "transform"), batch, transform
}

// JoinPrm is LEMUR's prm dict of a trial: prm plus batch and transform
// (each left out when zero).
func JoinPrm(prm Dict, batch int, transform string) Dict {
	d := append(make(Dict, 0, len(prm)+2), prm.Without("batch", "transform")...)
	if batch > 0 {
		d = d.Set("batch", int64(batch))
	}
	if transform != "" {
		d = d.Set("transform", transform)
	}
	return d
}
