// Command mutants checks that the test suite catches small, plausible bugs:
// for each mutant in mutants.txt it replaces one exact piece of source text,
// runs the tests named for it, restores the file, and reports which test
// failed (caught) or that every test passed (survived). It exits 1 when a
// mutant survives or a mutant no longer applies (its text is gone from the
// source: update the list). Run it from the repository root: `make mutants`.
//
// mutants.txt holds one mutant per block, separated by blank lines:
//
//	id: short name
//	file: path/to/file.go
//	from: exact text (one line; \n and \t are unescaped)
//	to: replacement
//	test: package pattern and optional -run regexp, as for go test
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

type mutant struct {
	id, file, from, to, test string
}

func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(s)
}

func load(path string) ([]mutant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mutant
	var m mutant
	flush := func(line int) error {
		if m == (mutant{}) {
			return nil
		}
		if m.id == "" || m.file == "" || m.from == "" || m.test == "" {
			return fmt.Errorf("%s:%d: mutant %q needs id, file, from and test", path, line, m.id)
		}
		out = append(out, m)
		m = mutant{}
		return nil
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			if err := flush(n); err != nil {
				return nil, err
			}
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			return nil, fmt.Errorf("%s:%d: want 'key: value'", path, n)
		}
		switch k {
		case "id":
			m.id = v
		case "file":
			m.file = v
		case "from":
			m.from = unescape(v)
		case "to":
			m.to = unescape(v)
		case "test":
			m.test = v
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", path, n, k)
		}
	}
	if err := flush(n); err != nil {
		return nil, err
	}
	return out, sc.Err()
}

var failRE = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

func run(m mutant) (caught bool, by string, err error) {
	orig, err := os.ReadFile(m.file)
	if err != nil {
		return false, "", err
	}
	if c := bytes.Count(orig, []byte(m.from)); c != 1 {
		return false, "", fmt.Errorf("%s: the text to mutate occurs %d times in %s (want exactly once)", m.id, c, m.file)
	}
	mutated := bytes.Replace(orig, []byte(m.from), []byte(m.to), 1)
	if err := os.WriteFile(m.file, mutated, 0o644); err != nil {
		return false, "", err
	}
	defer os.WriteFile(m.file, orig, 0o644)
	args := append([]string{"test", "-count=1", "-timeout", "10m"}, strings.Fields(m.test)...)
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return false, "", nil
	}
	fails := failRE.FindAllStringSubmatch(string(out), -1)
	var names []string
	for _, f := range fails {
		names = append(names, f[1])
	}
	if len(names) == 0 {
		if bytes.Contains(out, []byte("build failed")) || bytes.Contains(out, []byte("[build failed]")) {
			return true, "(does not compile: fix the mutant)", nil
		}
		names = append(names, "(test binary failed)")
	}
	if len(names) > 3 {
		names = append(names[:3], fmt.Sprintf("+%d more", len(names)-3))
	}
	return true, strings.Join(names, ", "), nil
}

func main() {
	list := flag.String("list", "internal/mutants/mutants.txt", "the mutants")
	only := flag.String("only", "", "run only mutants whose id contains this")
	flag.Parse()
	ms, err := load(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	bad := 0
	fmt.Printf("%-34s %-8s %s\n", "mutant", "result", "caught by")
	for _, m := range ms {
		if *only != "" && !strings.Contains(m.id, *only) {
			continue
		}
		start := time.Now()
		caught, by, err := run(m)
		switch {
		case err != nil:
			bad++
			fmt.Printf("%-34s %-8s %v\n", m.id, "ERROR", err)
		case !caught:
			bad++
			fmt.Printf("%-34s %-8s every test passed (%s)\n", m.id, "SURVIVED", m.test)
		default:
			fmt.Printf("%-34s %-8s %s (%s)\n", m.id, "caught", by, time.Since(start).Round(time.Second))
		}
	}
	if bad > 0 {
		fmt.Printf("%d mutant(s) survived or did not apply\n", bad)
		os.Exit(1)
	}
}
