package kafkaconn

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// NewLogger returns franz-go's client logger writing to log with
// component=kafka: the client's warnings and errors at slog's Warn and Error,
// its info and debug messages both at slog's Debug, so they appear only with
// --log-level debug. (franz-go's plugin/kslog maps the client's info to
// slog's Info, which would fill an info log with every group rebalance
// step.) franz-go logs the SASL mechanism and user, never the password.
func NewLogger(log *slog.Logger) kgo.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &kgoLogger{log: log.With("component", "kafka")}
}

type kgoLogger struct{ log *slog.Logger }

func (l *kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case l.log.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (l *kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	l.log.Log(context.Background(), lv, msg, keyvals...)
}
