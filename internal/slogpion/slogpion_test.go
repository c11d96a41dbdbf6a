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

// pion's note that a peer does not support PR-SCTP ("not using
// ForwardTSN", at warning level in pion) is logged at info: a peer without
// the extension is not a fault.
func TestNegotiationNoteAtInfo(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := Factory{Logger: l, MinLevel: LevelTrace}.NewLogger("sctp")
	p.Warnf("[%s] not using ForwardTSN (on %s)", "0xc0001", "INIT")
	p.Warnf("[%s] not using I-ForwardTSN (on %s)", "0xc0001", "INIT")
	if buf.Len() != 0 {
		t.Fatalf("logged at warning level: %s", buf.String())
	}
	p.Warnf("[%s] failed to serialize a Forward TSN packet", "0xc0001")
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("a real warning not logged: %q", buf.String())
	}
}
