package runner

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// npyArray is a numpy .npy file read into memory: numbers as float64 (for
// predictions) or int64 (for labels).
type npyArray struct {
	Shape []int
	Descr string
	F     []float64
	I     []int64
}

var (
	reDescr = regexp.MustCompile(`'descr':\s*'([^']+)'`)
	reOrder = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	reShape = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// readNpy reads a C-ordered .npy file of at most maxElems elements; the size
// is checked against the header before anything is read, so a hostile file
// cannot make the coordinator allocate more.
//
// The file may come from a hostile worker's scratch folder: a symlink (to a
// host file the coordinator could read) or a FIFO (which would block the
// coordinator) is refused; only a regular file is read.
func readNpy(path string, maxElems int) (*npyArray, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%v)", path, st.Mode().Type())
	}
	r := bufio.NewReader(f)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen int
	switch magic[6] {
	case 1:
		var n uint16
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, err
		}
		hlen = int(n)
	case 2, 3:
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, err
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("%s: .npy version %d", path, magic[6])
	}
	if hlen > 1<<16 {
		return nil, fmt.Errorf("%s: .npy header of %d bytes", path, hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, err
	}
	h := string(hb)
	a := &npyArray{}
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("%s: no descr in header %q", path, h)
	}
	a.Descr = m[1]
	if m := reOrder.FindStringSubmatch(h); m == nil || m[1] != "False" {
		return nil, fmt.Errorf("%s: want C order", path)
	}
	m = reShape.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("%s: no shape in header %q", path, h)
	}
	n := 1
	for _, part := range strings.Split(m[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := strconv.Atoi(part)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s: bad shape %q", path, m[1])
		}
		a.Shape = append(a.Shape, d)
		if d > 0 && n > maxElems/d {
			return nil, fmt.Errorf("%s: %v holds more than %d elements", path, a.Shape, maxElems)
		}
		n *= d
	}
	size := map[string]int{"<f4": 4, "<f8": 8, "|u1": 1, "<u1": 1, "|i1": 1, "<i2": 2, "<i4": 4, "<i8": 8, "<u2": 2}[a.Descr]
	if size == 0 {
		return nil, fmt.Errorf("%s: dtype %s not supported", path, a.Descr)
	}
	want := int64(8+2+hlen) + int64(n)*int64(size)
	if magic[6] != 1 {
		want += 2
	}
	if st.Size() != want {
		return nil, fmt.Errorf("%s: %d bytes, header %q says %d", path, st.Size(), h, want)
	}
	buf := make([]byte, n*size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	switch a.Descr {
	case "<f4":
		a.F = make([]float64, n)
		for i := range a.F {
			a.F[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	case "<f8":
		a.F = make([]float64, n)
		for i := range a.F {
			a.F[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
		}
	default:
		a.I = make([]int64, n)
		for i := range a.I {
			switch a.Descr {
			case "|u1", "<u1":
				a.I[i] = int64(buf[i])
			case "|i1":
				a.I[i] = int64(int8(buf[i]))
			case "<i2":
				a.I[i] = int64(int16(binary.LittleEndian.Uint16(buf[2*i:])))
			case "<u2":
				a.I[i] = int64(binary.LittleEndian.Uint16(buf[2*i:]))
			case "<i4":
				a.I[i] = int64(int32(binary.LittleEndian.Uint32(buf[4*i:])))
			case "<i8":
				a.I[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
			}
		}
	}
	return a, nil
}

var errPredShape = errors.New("predictions do not match the test split")

// accuracy is top-1 accuracy of logits (n x classes, row-major) against
// labels. Rows with NaN never match.
func accuracy(logits []float64, classes int, labels []int64) (float64, error) {
	if classes <= 0 || len(logits) != len(labels)*classes {
		return 0, fmt.Errorf("%w: %d values for %d labels x %d classes", errPredShape, len(logits), len(labels), classes)
	}
	if len(labels) == 0 {
		return 0, nil
	}
	hit := 0
	for i, y := range labels {
		row := logits[i*classes : (i+1)*classes]
		best, arg := math.Inf(-1), -1
		for j, v := range row {
			if v > best {
				best, arg = v, j
			}
		}
		if int64(arg) == y {
			hit++
		}
	}
	return float64(hit) / float64(len(labels)), nil
}
