package usrsctpbuild

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildUsesGlue: a program that calls recv_msg from the glue header
// builds and runs, and a broken one fails with the compiler's words.
func TestBuildUsesGlue(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	prog := "#include \"usrsctp_glue.h\"\nint main(int argc, char **argv) { (void)argv; if (argc > 5) return (int)recv_msg(NULL, NULL, 0, NULL, NULL); return 0; }\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "p")
	err := Build(src, bin, "-O1", "-Wall", "-Werror")
	if errors.Is(err, ErrNoCompiler) || errors.Is(err, ErrNoLibrary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(bin).Run(); err != nil {
		t.Fatalf("the built program: %v", err)
	}

	if err := os.WriteFile(src, []byte("int main(void) { return undeclared; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Build(src, bin)
	if err == nil || errors.Is(err, ErrNoLibrary) || errors.Is(err, ErrNoCompiler) {
		t.Fatalf("a broken program: %v", err)
	}
}
