package predict

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Linear is a least-squares fit y = W[0] + W[1]*x1 + W[2]*x2: the
// 3-parameter reference of ../REFERENCE §5 (best accuracy from the first
// and the last observed accuracy) and its best-epoch counterpart.
type Linear struct {
	W [3]float64 `json:"w"`
}

// FitLinear solves the least-squares problem for rows (x1, x2) and targets.
func FitLinear(x [][2]float64, y []float64) (Linear, error) {
	if len(x) != len(y) {
		return Linear{}, fmt.Errorf("linear fit: %d rows but %d targets", len(x), len(y))
	}
	if len(x) < 3 {
		return Linear{}, errors.New("linear fit: need at least 3 rows")
	}
	a := mat.NewDense(len(x), 3, nil)
	for i, r := range x {
		a.Set(i, 0, 1)
		a.Set(i, 1, r[0])
		a.Set(i, 2, r[1])
	}
	var qr mat.QR
	qr.Factorize(a)
	var w mat.VecDense
	if err := qr.SolveVecTo(&w, false, mat.NewVecDense(len(y), y)); err != nil {
		return Linear{}, fmt.Errorf("linear fit: %w (are the inputs constant?)", err)
	}
	return Linear{W: [3]float64{w.AtVec(0), w.AtVec(1), w.AtVec(2)}}, nil
}

// Predict evaluates the fit.
func (l Linear) Predict(x1, x2 float64) float64 { return l.W[0] + l.W[1]*x1 + l.W[2]*x2 }
