package core

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The guard keeps the layering of DESIGN.md honest:
//
//   - core and core/sim have no goroutines, clock, network, disk or
//     syscall/js of their own, and never link Badger or gorilla;
//   - only the simulator's randsource.go assigns crypto/rand.Reader;
//   - no command links core/sim, so a real node keeps the system's random
//     source (TLS needs it).
//
// It reads the source with go/parser, so it runs natively and under wasm.

const module = "github.com/raftlab/raftlab"

// pureImports are what a pure package may not import.
var pureImports = []string{"net", "os", "syscall", "syscall/js", "time", "os/exec", "io/ioutil",
	"github.com/dgraph-io/badger/v4", "github.com/gorilla/websocket", "github.com/hack-pad/safejs"}

func forbiddenImport(path string) bool {
	for _, p := range pureImports {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return strings.HasPrefix(path, module+"/storage/badger") || strings.HasPrefix(path, module+"/transport") ||
		strings.HasPrefix(path, module+"/cmd") || strings.HasPrefix(path, module+"/core/live")
}

// pureViolations returns what breaks purity in the Go source of one file.
func pureViolations(fset *token.FileSet, f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if forbiddenImport(p) {
			out = append(out, fmt.Sprintf("%s: imports %s", fset.Position(imp.Pos()), p))
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, fmt.Sprintf("%s: starts a goroutine", fset.Position(n.Pos())))
		case *ast.SelectStmt:
			out = append(out, fmt.Sprintf("%s: waits on channels", fset.Position(n.Pos())))
		}
		return true
	})
	return out
}

// readerAssignments returns the assignments to crypto/rand.Reader in f.
func readerAssignments(fset *token.FileSet, f *ast.File) []string {
	names := map[string]bool{}
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "crypto/rand" {
			name := "rand"
			if imp.Name != nil {
				name = imp.Name.Name
			}
			names[name] = true
		}
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok {
			return true
		}
		for _, lhs := range as.Lhs {
			if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Reader" {
				if x, ok := sel.X.(*ast.Ident); ok && names[x.Name] {
					out = append(out, fmt.Sprintf("%s: assigns crypto/rand.Reader", fset.Position(as.Pos())))
				}
			}
		}
		return true
	})
	return out
}

// parseDir parses the non-test Go files of dir, build tags ignored (a file
// for any platform counts).
func parseDir(t *testing.T, fset *token.FileSet, dir string, withTests bool) []*ast.File {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || (!withTests && strings.HasSuffix(name, "_test.go")) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly|parser.SkipObjectResolution)
		if err == nil {
			f, err = parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func TestGuardPurePackages(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range []string{".", "sim"} {
		for _, f := range parseDir(t, fset, dir, false) {
			for _, v := range pureViolations(fset, f) {
				t.Errorf("core must stay pure (DESIGN.md): %s", v)
			}
		}
	}
}

func TestGuardRandReader(t *testing.T) {
	fset := token.NewFileSet()
	allowed := filepath.Join("sim", "randsource.go")
	found := 0
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, v := range readerAssignments(fset, f) {
			rel, _ := filepath.Rel("..", path)
			if rel == filepath.Join("core", allowed) {
				found++
				continue
			}
			t.Errorf("only core/sim/randsource.go may replace crypto/rand.Reader: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != 1 {
		t.Errorf("core/sim/randsource.go should assign crypto/rand.Reader once, found %d", found)
	}
}

// TestGuardCommandsKeepSystemRandom: no command (the node binary above all)
// links the simulator, whose import replaces crypto/rand.Reader.
func TestGuardCommandsKeepSystemRandom(t *testing.T) {
	cmds, _ := filepath.Glob("../cmd/*")
	if len(cmds) == 0 {
		t.Skip("no commands yet")
	}
	for _, cmd := range cmds {
		deps := moduleDeps(t, cmd)
		if slices.Contains(deps, module+"/core/sim") {
			t.Errorf("%s links core/sim, which replaces crypto/rand.Reader: a real node must keep the system's random source", cmd)
		}
	}
}

// moduleDeps returns the module packages dir imports, transitively.
func moduleDeps(t *testing.T, dir string) []string {
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		fset := token.NewFileSet()
		for _, f := range parseDir(t, fset, dir, false) {
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(p, module+"/") || seen[p] {
					continue
				}
				seen[p] = true
				walk(filepath.Join("..", strings.TrimPrefix(p, module+"/")))
			}
		}
	}
	walk(dir)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// TestGuardCanFail shows the guard's checks catch what they look for.
func TestGuardCanFail(t *testing.T) {
	src := `package bad
import (
	"net"
	crand "crypto/rand"
	"time"
)
func f() {
	go f()
	crand.Reader = nil
	_ = net.IPv4len
	_ = time.Now
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := pureViolations(fset, f); len(v) != 3 {
		t.Errorf("want 3 purity violations (net, time, go), got %v", v)
	}
	if v := readerAssignments(fset, f); len(v) != 1 {
		t.Errorf("want 1 reader assignment, got %v", v)
	}
}
