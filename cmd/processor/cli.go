package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// parseFlags parses args into fs. Asked for help (-h, -help, --help), it
// prints the command's usage on stdout and reports exit 0; a bad flag is a
// usage error (the flag package has printed why on stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, ok bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			if fs.Usage != nil {
				fs.Usage()
			} else {
				fmt.Fprintf(stdout, "usage of processor %s:\n", fs.Name())
				fs.PrintDefaults()
			}
			return exitOK, false
		}
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage, false
	}
	return exitOK, true
}

// usageFunc prints a usage line and the flags on the flag set's output, so
// that --help goes to stdout and a bad flag's usage to stderr.
func usageFunc(fs *flag.FlagSet, line string) func() {
	return func() {
		fmt.Fprintln(fs.Output(), "usage: "+line)
		fs.PrintDefaults()
	}
}

// version is set at build time by -ldflags "-X main.version=..." (the
// Dockerfile does); otherwise the module version from the build info.
var version = ""

// buildInfo is what `processor version` prints and eqlstream_build_info
// exports: the version, the VCS commit (with +dirty for a modified tree) and
// the Go version.
func buildInfo() (ver, commit, goVersion string) {
	ver, commit, goVersion = version, "unknown", runtime.Version()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if ver == "" {
			ver = "unknown"
		}
		return ver, commit, goVersion
	}
	if ver == "" {
		ver = bi.Main.Version
		if ver == "" || ver == "(devel)" {
			ver = "devel"
		}
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
			if len(commit) > 12 {
				commit = commit[:12]
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && commit != "unknown" {
		commit += "+dirty"
	}
	return ver, commit, goVersion
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, "processor version")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "version: unexpected arguments %s\n", strings.Join(fs.Args(), " "))
		return exitUsage
	}
	ver, commit, gov := buildInfo()
	fmt.Fprintf(stdout, "eqlstream processor %s (commit %s, %s %s/%s)\n", ver, commit, gov, runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// envDefaults sets every flag not given on the command line from
// EQLSTREAM_<NAME> (dashes become underscores). A value that does not parse
// is reported with the variable, the value and the form expected.
func envDefaults(fs *flag.FlagSet, set map[string]bool) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := "EQLSTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %s (for --%s)", env, v, expectedForm(f, e), f.Name))
			}
		}
	})
	return errors.Join(errs...)
}

// expectedForm says what a flag's value must look like.
func expectedForm(f *flag.Flag, err error) string {
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return err.Error()
	}
	switch getter.Get().(type) {
	case time.Duration:
		return "want a duration such as 100ms, 2s or 1m"
	case bool:
		return "want true or false"
	case int, int64, uint, uint64:
		return "want a whole number"
	case float64:
		return "want a number"
	}
	return err.Error()
}

// newLogger returns the command's logger; an unknown level or format is a
// usage error that lists the allowed values. JSON logs give durations as
// seconds (a number), not nanoseconds; text logs as Go durations (12ms).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("unknown --log-level %q: debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		o.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				return slog.Float64(a.Key, a.Value.Duration().Seconds())
			}
			return a
		}
		return slog.New(slog.NewJSONHandler(w, o)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	}
	return nil, fmt.Errorf("unknown --log-format %q: text or json", format)
}
