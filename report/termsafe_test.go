package report

import (
	"bytes"
	"fmt"
	"testing"
)

// TestTextWriterStripsControls: whatever a candidate's name or reason
// holds, the text report reaches the terminal as plain text.
func TestTextWriterStripsControls(t *testing.T) {
	var b bytes.Buffer
	ew := &errWriter{w: &b}
	n, err := fmt.Fprintf(ew, "name %s\tfrom %s\n", "evil\x1b[2K\rPASSED", "\x1b]0;title\x07x")
	if err != nil || n != len("name evil\x1b[2K\rPASSED\tfrom \x1b]0;title\x07x\n") {
		t.Fatalf("Fprintf: %d, %v", n, err)
	}
	if got, want := b.String(), "name evil\nPASSED\tfrom x\n"; got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
}
