package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name         string
		model        string
		vllm, llama  int
		ctxLen       int
		wantCtx      int
		wantCheckErr string
	}{
		{"vllm fits", llmtest.Model, 32768, 0, 16384, 32768, ""},
		{"vllm shorter than configured", llmtest.Model, 8192, 0, 16384, 8192, "set llm.context_length to 8192"},
		{"llama.cpp props", llmtest.Model, 0, 4096, 8000, 4096, "llama.cpp"},
		{"unknown context", llmtest.Model, 0, 0, 16384, 0, ""},
		{"model typo", "qwen-coder", 0, 0, 16384, 0, "serves: " + llmtest.Model},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer(t)
			srv.SetContextLength(tc.vllm)
			srv.SetPropsContext(tc.llama)
			cfg := llm.Config{BaseURL: srv.URL, Model: tc.model, ContextLength: tc.ctxLen}
			c, err := llm.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Probe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.ContextLength != tc.wantCtx || info.ModelFound != (tc.model == llmtest.Model) {
				t.Errorf("info %+v", info)
			}
			err = info.Check(cfg)
			if (tc.wantCheckErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantCheckErr)) {
				t.Errorf("check: %v, want %q", err, tc.wantCheckErr)
			}
		})
	}
}

func TestProbeWrongURL(t *testing.T) {
	srv := llmtest.NewServer(t)
	c, _ := llm.New(llm.Config{BaseURL: srv.Root + "/api", Model: "m"})
	_, err := c.Probe(context.Background())
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindNotFound {
		t.Errorf("error %v, want not_found", err)
	}
}
