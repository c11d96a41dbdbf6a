package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"demo", "-messages", "3"}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	wants := []string{"association up", `server got "request 2"`, `client got "answer 2"`, "active", "down (shutdown)", "done"}
	if loopbackRange() {
		// Multi-homed: both paths confirmed, the cut moves the data, the
		// restored path takes it back, nothing lost or duplicated.
		wants = append(wants, "both paths confirmed by heartbeat", "event: path potentially failed 127.0.0.3",
			"event: primary changed 127.0.0.4", "event: primary changed 127.0.0.3",
			"summary: 300 messages sent, 300 delivered in order, 0 duplicates, 0 out of order")
	}
	for _, want := range wants {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"nope"}, &out); err == nil {
		t.Fatal("no error for an unknown command")
	}
	if err := run(nil, &out); err == nil {
		t.Fatal("no error without a command")
	}
}
