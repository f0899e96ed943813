// Package logging builds the functions' logger: JSON lines on stdout
// (CloudWatch), at LOG_LEVEL (DEBUG, INFO, WARN, ERROR; INFO by default).
package logging

import (
	"log/slog"
	"os"
)

// FromEnv returns the logger.
func FromEnv() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}
