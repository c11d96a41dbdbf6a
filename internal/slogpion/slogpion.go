// Package slogpion bridges pion's leveled loggers to log/slog, so that the
// pion associations under a stack log where the stack logs.
package slogpion

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// LevelTrace is the slog level of pion's Trace messages, below Debug.
const LevelTrace = slog.LevelDebug - 4

// Factory makes pion loggers that write to an slog.Logger, each with a
// "scope" attribute.
type Factory struct {
	Logger *slog.Logger
	// MinLevel drops pion's messages below it, whatever the handler's level.
	MinLevel slog.Level
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	// The scope goes with each message rather than into a logger of its
	// own (Logger.With): pion asks for a logger per association, and a
	// derived handler is some 200 bytes each, kept for the association's
	// life, to log nothing most of the time.
	return &logger{l: f.Logger, scope: scope, min: f.MinLevel}
}

type logger struct {
	l     *slog.Logger
	scope string
	min   slog.Level
}

func (g *logger) log(level slog.Level, msg string) {
	if level >= g.min {
		g.l.Log(context.Background(), level, msg, "scope", g.scope)
	}
}

func (g *logger) logf(level slog.Level, format string, args ...any) {
	if level >= g.min && g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "scope", g.scope)
	}
}

func (g *logger) Trace(msg string)                  { g.log(LevelTrace, msg) }
func (g *logger) Tracef(format string, args ...any) { g.logf(LevelTrace, format, args...) }
func (g *logger) Debug(msg string)                  { g.log(slog.LevelDebug, msg) }
func (g *logger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g *logger) Info(msg string)                   { g.log(slog.LevelInfo, msg) }
func (g *logger) Infof(format string, args ...any)  { g.logf(slog.LevelInfo, format, args...) }
func (g *logger) Warn(msg string)                   { g.log(slog.LevelWarn, msg) }
func (g *logger) Warnf(format string, args ...any) {
	level := slog.LevelWarn
	if isNegotiationNote(format) {
		level = slog.LevelInfo
	}
	g.logf(level, format, args...)
}

// isNegotiationNote reports whether a pion warning only says what the
// peer does not support: pion's Association.useForwardTSN warns "not
// using ForwardTSN" (and I-ForwardTSN) for every peer without PR-SCTP
// (RFC 3758), which is a normal peer, not a fault. Such notes are logged
// at info.
func isNegotiationNote(format string) bool {
	return strings.Contains(format, "not using ForwardTSN") || strings.Contains(format, "not using I-ForwardTSN")
}
func (g *logger) Error(msg string)                  { g.log(slog.LevelError, msg) }
func (g *logger) Errorf(format string, args ...any) { g.logf(slog.LevelError, format, args...) }
