package dashboard

import "strings"

// diffLine is one line of a line diff: Op is ' ' (kept), '+' (added),
// '-' (removed) or '~' (a fold of unchanged lines, Text says how many).
type diffLine struct {
	Op     byte
	Old    int // 1-based line in the old text; 0 when added
	New    int // 1-based line in the new text; 0 when removed
	Text   string
	Folded int
}

// diffContext is how many unchanged lines stay around each change.
const diffContext = 3

// maxDiffCells bounds the LCS table; larger pairs are shown as a whole
// replacement rather than spending seconds on a diff.
const maxDiffCells = 4_000_000

// diffLines is a line diff of a to b (longest common subsequence), with
// long unchanged runs folded.
func diffLines(a, b string) []diffLine {
	x, y := splitLines(a), splitLines(b)
	n, m := len(x), len(y)
	var ops []diffLine
	if n*m > maxDiffCells {
		for i, l := range x {
			ops = append(ops, diffLine{Op: '-', Old: i + 1, Text: l})
		}
		for j, l := range y {
			ops = append(ops, diffLine{Op: '+', New: j + 1, Text: l})
		}
		return ops
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, diffLine{Op: ' ', Old: i + 1, New: j + 1, Text: x[i]})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffLine{Op: '-', Old: i + 1, Text: x[i]})
			i++
		default:
			ops = append(ops, diffLine{Op: '+', New: j + 1, Text: y[j]})
			j++
		}
	}
	return fold(ops)
}

// fold replaces unchanged runs farther than diffContext from a change by
// one fold line.
func fold(ops []diffLine) []diffLine {
	near := make([]bool, len(ops))
	for k, o := range ops {
		if o.Op == ' ' {
			continue
		}
		for d := max(0, k-diffContext); d <= min(len(ops)-1, k+diffContext); d++ {
			near[d] = true
		}
	}
	var out []diffLine
	for k := 0; k < len(ops); {
		if ops[k].Op != ' ' || near[k] {
			out = append(out, ops[k])
			k++
			continue
		}
		e := k
		for e < len(ops) && ops[e].Op == ' ' && !near[e] {
			e++
		}
		out = append(out, diffLine{Op: '~', Folded: e - k, Old: ops[k].Old, New: ops[k].New})
		k = e
	}
	return out
}

// plainLines shows code without a parent as numbered, unchanged lines.
func plainLines(s string) []diffLine {
	ls := splitLines(s)
	out := make([]diffLine, len(ls))
	for i, l := range ls {
		out[i] = diffLine{Op: ' ', Old: i + 1, New: i + 1, Text: l}
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
