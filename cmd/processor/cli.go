package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
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
