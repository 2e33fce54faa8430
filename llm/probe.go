package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// ServerInfo is what a server says about itself.
type ServerInfo struct {
	Models     []string `json:"models"`      // the model ids GET /models lists
	ModelFound bool     `json:"model_found"` // the configured model is among them
	// ContextLength is the server's context for the configured model when
	// it reports one (vLLM: max_model_len in /v1/models; llama.cpp server:
	// n_ctx in /props); 0 when unknown (Ollama, hosted APIs).
	ContextLength int    `json:"context_length,omitempty"`
	ContextSource string `json:"context_source,omitempty"`
}

// Probe asks the server which models it serves and, where it says, its
// context length. It is for diagnostics (`nngpt doctor`, a warning before
// a run): Chat does not need it.
func (o *OpenAI) Probe(ctx context.Context) (ServerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	base := strings.TrimRight(o.cfg.BaseURL, "/") + "/"
	var info ServerInfo
	var list struct {
		Data []struct {
			ID          string `json:"id"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	status, err := o.getJSON(ctx, base+"models", &list)
	if err != nil {
		e := &Error{Kind: KindNetwork, Status: status, Attempts: 1, URL: base + "models", Err: err}
		if status != 0 {
			e.Kind = kindOfStatus(status, err.Error())
		}
		return info, e
	}
	for _, m := range list.Data {
		info.Models = append(info.Models, m.ID)
		if m.ID == o.cfg.Model {
			info.ModelFound = true
			if m.MaxModelLen > 0 {
				info.ContextLength, info.ContextSource = m.MaxModelLen, "max_model_len of GET /v1/models (vLLM)"
			}
		}
	}
	sort.Strings(info.Models)
	if info.ContextLength == 0 {
		var props struct {
			Settings struct {
				NCtx int `json:"n_ctx"`
			} `json:"default_generation_settings"`
		}
		if _, err := o.getJSON(ctx, rootURL(base)+"props", &props); err == nil && props.Settings.NCtx > 0 {
			info.ContextLength, info.ContextSource = props.Settings.NCtx, "n_ctx of GET /props (llama.cpp server)"
		}
	}
	return info, nil
}

// Check compares the server's answer with the configuration: an unknown
// model or a configured context longer than the server's is an error that
// says what to set.
func (i ServerInfo) Check(cfg Config) error {
	if len(i.Models) > 0 && !i.ModelFound {
		return fmt.Errorf("the server does not serve model %q; it serves: %s (set llm.model)", cfg.Model, strings.Join(i.Models, ", "))
	}
	ctxLen := cfg.ContextLength
	if ctxLen == 0 {
		ctxLen = DefaultContextLength
	}
	if i.ContextLength > 0 && ctxLen > i.ContextLength {
		return fmt.Errorf("llm.context_length is %d but the server's context is %d (%s): set llm.context_length to %d or less", ctxLen, i.ContextLength, i.ContextSource, i.ContextLength)
	}
	return nil
}

func (o *OpenAI) getJSON(ctx context.Context, url string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if o.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	res, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, fmt.Errorf("GET %s: HTTP %d: %s", url, res.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return res.StatusCode, fmt.Errorf("GET %s: %w", url, err)
	}
	return res.StatusCode, nil
}
