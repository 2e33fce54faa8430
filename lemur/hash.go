package lemur

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strings"
	"unicode"
)

// HashText is LEMUR's id of a text: md5 (hex) of the text with every
// whitespace character removed (Python's str.split() notion of whitespace).
func HashText(s string) string {
	h := md5.New()
	buf := make([]byte, 0, len(s))
	for _, r := range s {
		if !isPySpace(r) {
			buf = appendRune(buf, r)
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

func appendRune(b []byte, r rune) []byte {
	if r < 0x80 {
		return append(b, byte(r))
	}
	return append(b, string(r)...)
}

// isPySpace matches Python's str.isspace: Unicode White_Space plus the
// separators \x1c-\x1f that Python also counts.
func isPySpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f)
	}
	return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || r == 0x2028 || r == 0x2029
}

// CodeID is LEMUR's id of model (or transform, metric) code.
func CodeID(code string) string { return HashText(code) }

// HashValue is LEMUR's uuid4(): the id of Python's str() of a value.
func HashValue(v Value) string { return HashText(Repr(v)) }

// UIDKeysExcluded are the record keys that are not hyperparameters.
var UIDKeysExcluded = []string{"uid", "duration", "accuracy", "epoch"}

// UID is the trial uid of a hyperparameter dict: the md5 of str() of the
// dict with its keys sorted, without uid, duration, accuracy and epoch.
func UID(prm Dict) string {
	d := prm.Without(UIDKeysExcluded...)
	sort.SliceStable(d, func(i, j int) bool { return d[i].Key < d[j].Key })
	return HashValue(d)
}

// StatID is the id of a stat row: the md5 of
// str([transform, uid, task, dataset, metric, nn, epoch, duration, accuracy])
// where transform, duration and accuracy keep the Python types they had.
func StatID(transform Value, uid string, p Pipeline, epoch int64, duration, accuracy Value) string {
	return HashValue([]Value{transform, uid, p.Task, p.Dataset, p.Metric, p.NN, epoch, duration, accuracy})
}

// ModelName is the name LEMUR gives a generated model: prefix-<code id>.
func ModelName(prefix, code string) string {
	return prefix + "-" + CodeID(code)
}

// IsHexID reports whether s looks like an md5 hex id.
func IsHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
