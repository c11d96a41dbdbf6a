package slogpion

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelsAndScope(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := Factory{Logger: l}.NewLogger("sctp")
	p.Debugf("hidden %d", 1)
	p.Tracef("hidden %d", 2)
	p.Infof("shown %d", 3)
	p.Error("bad")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Fatalf("below-level messages logged: %s", out)
	}
	for _, want := range []string{"msg=\"shown 3\"", "level=ERROR", "scope=sctp"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in %s", want, out)
		}
	}
}
