package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/workspace"
)

// TestDashboardCommand serves a workspace, answers on the printed URL and
// stops with its context; a non-loopback address gets a token.
func TestDashboardCommand(t *testing.T) {
	dir := t.TempDir()
	ws, err := workspace.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	for _, tc := range []struct {
		addr      string
		wantToken bool
	}{
		{"127.0.0.1:0", false},
		{"0.0.0.0:0", true},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan int, 1)
		go func() {
			done <- Execute(ctx, []string{"dashboard", "-w", dir, "--addr", tc.addr}, pw, io.Discard)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			t.Fatalf("%s: no URL printed: %v", tc.addr, err)
		}
		go io.Copy(io.Discard, pr)
		i := strings.Index(line, "http://")
		if i < 0 {
			t.Fatalf("%s: no URL in %q", tc.addr, line)
		}
		url := strings.Fields(line[i:])[0]
		if got := strings.Contains(url, "?token="); got != tc.wantToken {
			t.Fatalf("%s: URL %s, token %v, want %v", tc.addr, url, got, tc.wantToken)
		}
		url = strings.Replace(url, "0.0.0.0", "127.0.0.1", 1)
		if tc.wantToken {
			// Without the token even a local request is refused.
			bare, _, _ := strings.Cut(url, "?")
			resp, err := http.Get(bare)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: request without token: status %d, want 401", tc.addr, resp.StatusCode)
			}
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar} // keeps the cookie the token is traded for
		resp, err := browser.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "No loop in this workspace yet") {
			t.Fatalf("%s: status %d: %.300s", tc.addr, resp.StatusCode, body)
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("%s: exit %d after cancel", tc.addr, code)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the command did not stop", tc.addr)
		}
	}
	if code := Execute(context.Background(), []string{"dashboard", "-w", dir, "--addr", "8080"}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("--addr 8080: exit %d, want 2", code)
	}
}
