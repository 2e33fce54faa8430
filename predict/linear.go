package predict

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Linear is a least-squares fit y = W[0] + W[1]*x1 + W[2]*x2 + ...: the
// 3-parameter reference of ../REFERENCE §5 (best accuracy from the first
// and the last observed accuracy), its one-epoch form (from acc_1 alone)
// and the best-epoch counterparts.
type Linear struct {
	W []float64 `json:"w"`
}

// FitLinear solves the least-squares problem for rows of inputs (the
// intercept is added) and targets.
func FitLinear(x [][]float64, y []float64) (Linear, error) {
	if len(x) != len(y) {
		return Linear{}, fmt.Errorf("linear fit: %d rows but %d targets", len(x), len(y))
	}
	if len(x) == 0 {
		return Linear{}, errors.New("linear fit: no rows")
	}
	cols := len(x[0]) + 1
	if len(x) < cols {
		return Linear{}, fmt.Errorf("linear fit: need at least %d rows, got %d", cols, len(x))
	}
	a := mat.NewDense(len(x), cols, nil)
	for i, r := range x {
		if len(r) != cols-1 {
			return Linear{}, fmt.Errorf("linear fit: row %d has %d inputs, want %d", i, len(r), cols-1)
		}
		a.Set(i, 0, 1)
		for j, v := range r {
			a.Set(i, j+1, v)
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var w mat.VecDense
	if err := qr.SolveVecTo(&w, false, mat.NewVecDense(len(y), y)); err != nil {
		return Linear{}, fmt.Errorf("linear fit: %w (are the inputs constant?)", err)
	}
	out := Linear{W: make([]float64, cols)}
	for j := range cols {
		out.W[j] = w.AtVec(j)
	}
	return out, nil
}

// Predict evaluates the fit; x holds as many inputs as it was fitted on.
func (l Linear) Predict(x ...float64) float64 {
	y := l.W[0]
	for j, v := range x {
		y += l.W[j+1] * v
	}
	return y
}
