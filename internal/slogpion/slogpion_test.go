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
	p := Factory{Logger: l, MinLevel: LevelTrace}.NewLogger("sctp")
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

func TestMinLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := Factory{Logger: l, MinLevel: slog.LevelError}.NewLogger("sctp")
	p.Warnf("hidden %d", 1)
	p.Error("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("MinLevel not applied: %s", buf.String())
	}
}
