package dashboard

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/nngpt/nngpt/report"
)

var funcs = template.FuncMap{
	"acc":    func(a float64) string { return fmt.Sprintf("%.4f", a) },
	"pct":    func(a float64) string { return fmt.Sprintf("%.0f%%", 100*a) },
	"num":    func(a float64) string { return fmt.Sprintf("%.4g", a) },
	"params": report.Params,
	"dur":    report.Dur,
	"short":  report.ShortName,
	"ago":    ago,
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"join": strings.Join,
	"esc":  url.PathEscape,
	"query": func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	},
	"op": func(b byte) string { return string(b) },
	"opclass": func(b byte) string {
		switch b {
		case '+':
			return "add"
		case '-':
			return "del"
		}
		return "ctx"
	},
	"deref": func(p *float64) float64 { return *p },
	"inc":   func(i int) int { return i + 1 },
	"pair":  func(a, b *loopSide) []*loopSide { return []*loopSide{a, b} },
	"seconds": func(d time.Duration) string {
		return fmtSeconds(d.Seconds())
	},
	"lines": func(s string) int { return strings.Count(s, "\n") + 1 },
}

func fmtSeconds(s float64) string { return report.Dur(time.Duration(s * float64(time.Second))) }

// ago prints how long ago t was, coarsely.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// parseTemplates builds one template set per page: the layout plus the
// page's file, so each page defines its own "content".
func parseTemplates(extra template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).Funcs(extra).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
