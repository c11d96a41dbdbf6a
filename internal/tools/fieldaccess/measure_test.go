package main

import (
	"strings"
	"testing"
)

func find(t *testing.T, r *Report, name string) TypeReport {
	t.Helper()
	for _, tr := range r.Types {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("type %s not in report", name)
	return TypeReport{}
}

func field(t *testing.T, tr TypeReport, name string) map[string]int {
	t.Helper()
	for _, f := range tr.Fields {
		if f.Name == name {
			return f.Files
		}
	}
	t.Fatalf("field %s.%s not in report", tr.Name, name)
	return nil
}

func TestMeasureFixture(t *testing.T) {
	r, err := Measure("testdata/fixture", false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Package != "fixture" {
		t.Errorf("package %q, want fixture", r.Package)
	}
	outer := find(t, r, "Outer")
	if len(outer.Fields) != 3 || outer.Methods != 2 {
		t.Errorf("Outer: %d fields, %d methods; want 3, 2", len(outer.Fields), outer.Methods)
	}
	if got := field(t, outer, "n"); len(got) != 1 || got["a.go"] != 2 {
		t.Errorf("Outer.n accessed %v, want a.go twice", got)
	}
	// group is accessed in a.go (set) and b.go (read).
	if got := field(t, outer, "group"); got["a.go"] != 1 || got["b.go"] != 1 {
		t.Errorf("Outer.group accessed %v", got)
	}
	if outer.MultiFile() != 1 {
		t.Errorf("Outer: %d fields used from several files, want 1", outer.MultiFile())
	}
	if outer.Receivers["Other"] != 1 {
		t.Errorf("Outer accessed from Other's methods %d times, want 1 (group; v is Inner's)", outer.Receivers["Other"])
	}
	group := find(t, r, "Outer.group")
	if got := field(t, group, "x"); got["a.go"] != 1 || got["b.go"] != 1 {
		t.Errorf("Outer.group.x accessed %v", got)
	}
	// The promoted field v resolves to Inner.v; the composite literal key counts too.
	inner := find(t, r, "Inner")
	if got := field(t, inner, "v"); got["b.go"] != 2 || len(got) != 1 {
		t.Errorf("Inner.v accessed %v, want b.go twice", got)
	}
	if got := inner.Files(); len(got) != 1 || got[0] != "b.go" {
		t.Errorf("Inner files %v", got)
	}
}

func TestMeasureTests(t *testing.T) {
	r, err := Measure("testdata/fixture", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(t, find(t, r, "Outer"), "n"); got["b_test.go"] != 1 {
		t.Errorf("Outer.n with tests accessed %v, want b_test.go once", got)
	}
}

func TestWrite(t *testing.T) {
	r, err := Measure("testdata/fixture", false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Outer: fields=3 methods=2 accesses=4 files=2 multi-file-fields=1\n",
		"  from methods of: Other(1)\n",
		"  .group: a.go(1) b.go(1)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
