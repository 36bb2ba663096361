// Package logging builds the JSON logger every function writes with.
//
// Lambda ships each line of stdout to CloudWatch Logs; one JSON object per
// line keeps every event queryable with Logs Insights. Callers log ids,
// topics, outcomes and latencies only: never names, e-mails, phones,
// addresses, secrets or signatures.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a JSON logger writing to w at the named level ("debug",
// "info", "warn", "error"; info when empty or unknown).
func New(w io.Writer, level string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: ParseLevel(level)}))
}

// ParseLevel maps LOG_LEVEL's values, including AWS's upper-case ones, to a level.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "trace":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Exit logs why a function cannot start, in one line, and exits non-zero so
// that Lambda reports an init error instead of serving requests half-configured.
func Exit(log *slog.Logger, msg string, err error) {
	log.Error(msg, "error", err.Error())
	os.Exit(1)
}
