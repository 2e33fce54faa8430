package pyast

import (
	"sort"
	"strings"
	"testing"
)

// freeNames lists a statement's module-level reads (name or name.attr
// for chains), sorted, with "!" marking reads made when the statement runs.
func freeNames(s Stmt) string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.Refs {
		k := r.Name
		if len(r.Attrs) > 0 {
			k += "." + strings.Join(r.Attrs, ".")
		}
		if r.Eager {
			k += "!"
		}
		if r.Store {
			k += "="
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestSymbolsFreeNames(t *testing.T) {
	tests := []struct {
		name, src string
		kind      StmtKind
		binds     string
		free      string
	}{
		{"locals and params are not free", "def f(a, b=B, *args, c: T = 1, **kw) -> R:\n    x = a + b\n    return x, g(y)\n",
			StmtFunc, "f", "B! R! T! g y"},
		{"local anywhere in the function", "def f():\n    print(x)\n    x = 1\n", StmtFunc, "f", "print"},
		{"class body does not enclose methods", "class C(Base, metaclass=M):\n    k = 1\n    z = k\n    def m(self):\n        return k\n",
			StmtClass, "C", "Base! M! k"},
		{"comprehension and lambda scopes", "v = [i * s for i in xs if i] + list(map(lambda q, w=W: q + u, ys))\n",
			StmtAssign, "v", "W! list! map! s! u xs! ys!"},
		{"global declaration", "def set_x():\n    global X\n    X = 2\n    return Y\n", StmtFunc, "set_x", "X= Y"},
		{"nonlocal and closures", "def outer():\n    n = 0\n    def inner():\n        nonlocal n\n        n += 1\n        return n + K\n    return inner\n",
			StmtFunc, "outer", "K"},
		{"attribute chains", "y = torch.nn.functional.relu(x.abs())\n", StmtAssign, "y", "torch.nn.functional.relu! x.abs!"},
		{"decorators and defaults are eager", "@dec(A)\ndef f(x=D):\n    return E\n", StmtFunc, "f", "A! D! E dec!"},
		{"except and with targets bind", "try:\n    import numpy as np\nexcept ImportError as e:\n    np = None\n", StmtCompound, "np e np", "ImportError!"},
		{"walrus binds outside the comprehension", "r = [y := f(v) for v in data]\n", StmtAssign, "r y", "data! f!"},
		{"keyword names are not reads", "z = call(key=val)\n", StmtAssign, "z", "call! val!"},
		{"f-strings read their fields", "s = f\"{a!r:>{w}}\"\n", StmtAssign, "s", "a! w!"},
		{"augmented assignment reads and binds", "__all__ += extra\n", StmtAssign, "__all__", "__all__! extra!"},
		{"star targets", "a, (b, *c) = t\n", StmtAssign, "a b c", "t!"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Parse([]byte(tc.src))
			defer f.Close()
			m := Symbols(f)
			if len(m.Stmts) != 1 {
				t.Fatalf("%d statements, want 1", len(m.Stmts))
			}
			s := m.Stmts[0]
			if s.Kind != tc.kind {
				t.Errorf("kind = %s, want %s", s.Kind, tc.kind)
			}
			var binds []string
			for _, b := range s.Names {
				binds = append(binds, b.Name)
			}
			if got := strings.Join(binds, " "); got != tc.binds {
				t.Errorf("binds = %q, want %q", got, tc.binds)
			}
			if got := freeNames(s); got != tc.free {
				t.Errorf("free = %q, want %q", got, tc.free)
			}
		})
	}
}

func TestSymbolsImports(t *testing.T) {
	src := `from __future__ import annotations
import a.b.c as d, e.f
from ..x.y import (z, w as v)
from . import *
if TYPE_CHECKING:
    from q import T
if __name__ == "__main__":
    main()
__all__ = ["z", "v"]
__all__ += ["d"]
def f():
    from .local import thing
    return thing
`
	f := Parse([]byte(src))
	defer f.Close()
	m := Symbols(f)
	if !m.FutureAnnotations {
		t.Error("future annotations not seen")
	}
	if !m.HasAll || strings.Join(m.All, ",") != "z,v,d" {
		t.Errorf("__all__ = %v (%v)", m.All, m.HasAll)
	}
	im := m.Stmts[1].Imports[0]
	if im.From || len(im.Items) != 2 || im.Items[0].Bound(false) != "d" || im.Items[1].Bound(false) != "e" {
		t.Errorf("import a.b.c as d, e.f: %+v", im)
	}
	im = m.Stmts[2].Imports[0]
	if !im.From || im.Level != 2 || im.Module != "x.y" || im.Items[1].Name != "w" || im.Items[1].Alias != "v" {
		t.Errorf("from ..x.y import: %+v", im)
	}
	if im := m.Stmts[3].Imports[0]; !im.Star || im.Level != 1 || im.Module != "" {
		t.Errorf("from . import *: %+v", im)
	}
	if !m.Stmts[4].Inert || !m.Stmts[5].Inert || len(m.Stmts[4].Names) != 0 {
		t.Errorf("TYPE_CHECKING / __main__ blocks must be inert and bind nothing: %+v %+v", m.Stmts[4], m.Stmts[5])
	}
	fn := m.Stmts[8]
	if len(fn.Imports) != 1 || !fn.Imports[0].InFunction || !fn.Imports[0].Nested || freeNames(fn) != "" {
		t.Errorf("function-local import: imports %+v, free %q", fn.Imports, freeNames(fn))
	}
}
