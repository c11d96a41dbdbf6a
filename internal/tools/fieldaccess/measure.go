package main

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Report is the measurement of one package.
type Report struct {
	// Package is the package's name.
	Package string
	// Types holds one entry per struct type declared at package level,
	// sorted by name. An unnamed struct type used as a field's type is
	// reported as its own entry, named Outer.field.
	Types []TypeReport
}

// TypeReport is the measurement of one struct type.
type TypeReport struct {
	Name    string
	Methods int
	Fields  []FieldReport
	// Receivers counts, per named type other than this one whose methods
	// access a field of this type, the number of those accesses.
	Receivers map[string]int
}

// FieldReport lists where one field is accessed.
type FieldReport struct {
	Name string
	// Files maps a file's base name to the number of accesses in it.
	Files map[string]int
}

// Files returns the files that access any of t's fields.
func (t TypeReport) Files() []string {
	set := map[string]bool{}
	for _, f := range t.Fields {
		for name := range f.Files {
			set[name] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Accesses returns the number of accesses to t's fields.
func (t TypeReport) Accesses() int {
	n := 0
	for _, f := range t.Fields {
		for _, c := range f.Files {
			n += c
		}
	}
	return n
}

// MultiFile returns the number of t's fields accessed from more than one file.
func (t TypeReport) MultiFile() int {
	n := 0
	for _, f := range t.Fields {
		if len(f.Files) > 1 {
			n++
		}
	}
	return n
}

// Measure parses and type-checks the package in dir and measures its
// struct types. Imports are type-checked from source.
func Measure(dir string, tests bool) (*Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read package directory: %w", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") {
			continue
		}
		if strings.HasSuffix(name, "_test.go") && !tests {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	// External test packages (package x_test) are a different package.
	pkgName := files[0].Name.Name
	for _, f := range files {
		if !strings.HasSuffix(f.Name.Name, "_test") {
			pkgName = f.Name.Name
			break
		}
	}
	files = slices.DeleteFunc(files, func(f *ast.File) bool { return f.Name.Name != pkgName })

	info := &types.Info{
		Uses:  map[*ast.Ident]types.Object{},
		Defs:  map[*ast.Ident]types.Object{},
		Types: map[ast.Expr]types.TypeAndValue{},
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check(pkgName, fset, files, info)
	if err != nil {
		return nil, fmt.Errorf("type-check: %w", err)
	}
	return measure(fset, pkg, files, info), nil
}

func measure(fset *token.FileSet, pkg *types.Package, files []*ast.File, info *types.Info) *Report {
	owner := map[*types.Var]*TypeReport{}
	index := map[*types.Var]int{}
	byName := map[string]*TypeReport{}
	var add func(name string, st *types.Struct, methods int)
	add = func(name string, st *types.Struct, methods int) {
		t := &TypeReport{Name: name, Methods: methods, Receivers: map[string]int{}}
		byName[name] = t
		for i := range st.NumFields() {
			f := st.Field(i)
			owner[f] = t
			index[f] = len(t.Fields)
			t.Fields = append(t.Fields, FieldReport{Name: f.Name(), Files: map[string]int{}})
			if inner, ok := f.Type().(*types.Struct); ok {
				add(name+"."+f.Name(), inner, 0)
			}
		}
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || tn.IsAlias() {
			continue
		}
		named, ok := tn.Type().(*types.Named)
		if !ok {
			continue
		}
		st, ok := named.Underlying().(*types.Struct)
		if !ok {
			continue
		}
		add(name, st, named.NumMethods())
	}

	for _, f := range files {
		file := filepath.Base(fset.Position(f.Pos()).Filename)
		for _, decl := range f.Decls {
			recv := receiverName(decl)
			ast.Inspect(decl, func(n ast.Node) bool {
				id, ok := n.(*ast.Ident)
				if !ok {
					return true
				}
				v, ok := info.Uses[id].(*types.Var)
				if !ok || !v.IsField() {
					return true
				}
				t := owner[v]
				if t == nil {
					return true // a field of a type from another package
				}
				t.Fields[index[v]].Files[file]++
				if outer, _, _ := strings.Cut(t.Name, "."); recv != "" && recv != outer {
					t.Receivers[recv]++
				}
				return true
			})
		}
	}

	rep := &Report{Package: pkg.Name()}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		rep.Types = append(rep.Types, *byName[name])
	}
	return rep
}

// receiverName returns the name of the receiver's type of a method
// declaration, or "" for anything else.
func receiverName(decl ast.Decl) string {
	fd, ok := decl.(*ast.FuncDecl)
	if !ok || fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	x := fd.Recv.List[0].Type
	if star, ok := x.(*ast.StarExpr); ok {
		x = star.X
	}
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.IndexExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			return id.Name
		}
	case *ast.IndexListExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			return id.Name
		}
	}
	return ""
}

// Write prints the report: a summary line per type, then one line per
// field with the files that access it.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s: %d struct types\n", r.Package, len(r.Types))
	for _, t := range r.Types {
		fmt.Fprintf(&b, "\n%s: fields=%d methods=%d accesses=%d files=%d multi-file-fields=%d\n",
			t.Name, len(t.Fields), t.Methods, t.Accesses(), len(t.Files()), t.MultiFile())
		fmt.Fprintf(&b, "  files: %s\n", strings.Join(t.Files(), " "))
		if len(t.Receivers) > 0 {
			var parts []string
			for _, name := range slices.Sorted(maps.Keys(t.Receivers)) {
				parts = append(parts, fmt.Sprintf("%s(%d)", name, t.Receivers[name]))
			}
			fmt.Fprintf(&b, "  from methods of: %s\n", strings.Join(parts, " "))
		}
		for _, f := range t.Fields {
			var parts []string
			for _, name := range slices.Sorted(maps.Keys(f.Files)) {
				parts = append(parts, fmt.Sprintf("%s(%d)", name, f.Files[name]))
			}
			fmt.Fprintf(&b, "  .%s: %s\n", f.Name, strings.Join(parts, " "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
