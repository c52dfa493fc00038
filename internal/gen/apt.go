package gen

import "fmt"

// pkg is a Debian package that background upgrades install.
type pkg struct {
	name, ver, old string
	debconf        bool   // its postinst re-runs itself under debconf's frontend
	svc            string // systemd unit it restarts
	lib            bool   // runs ldconfig
}

var pkgs = []pkg{
	{"openssh-server", "1:9.6p1-3ubuntu13.8", "1:9.6p1-3ubuntu13.5", true, "ssh.service", false},
	{"openssh-client", "1:9.6p1-3ubuntu13.8", "1:9.6p1-3ubuntu13.5", false, "", false},
	{"libssl3t64", "3.0.13-0ubuntu3.5", "3.0.13-0ubuntu3.4", false, "", true},
	{"openssl", "3.0.13-0ubuntu3.5", "3.0.13-0ubuntu3.4", false, "", false},
	{"tzdata", "2025b-0ubuntu0.24.04", "2024b-0ubuntu0.24.04", true, "", false},
	{"curl", "8.5.0-2ubuntu10.6", "8.5.0-2ubuntu10.5", false, "", false},
	{"libcurl4t64", "8.5.0-2ubuntu10.6", "8.5.0-2ubuntu10.5", false, "", true},
	{"systemd", "255.4-1ubuntu8.6", "255.4-1ubuntu8.5", false, "systemd-logind.service", true},
	{"nginx-common", "1.24.0-2ubuntu7.3", "1.24.0-2ubuntu7.1", false, "nginx.service", false},
	{"vim-common", "2:9.1.0016-1ubuntu7.8", "2:9.1.0016-1ubuntu7.6", false, "", false},
	{"sudo", "1.9.15p5-3ubuntu5.24.04.1", "1.9.15p5-3ubuntu5", false, "", false},
	{"git", "1:2.43.0-1ubuntu7.2", "1:2.43.0-1ubuntu7.1", false, "", false},
	{"ca-certificates", "20240203", "20230311ubuntu1", true, "", false},
	{"libc-bin", "2.39-0ubuntu8.4", "2.39-0ubuntu8.3", false, "", true},
	{"rsyslog", "8.2312.0-3ubuntu9.1", "8.2312.0-3ubuntu9", false, "rsyslog.service", false},
	{"cron", "3.0pl1-184ubuntu2", "3.0pl1-184ubuntu1", false, "cron.service", false},
	{"postgresql-16", "16.8-0ubuntu0.24.04.1", "16.6-0ubuntu0.24.04.1", true, "postgresql.service", false},
	{"docker-ce", "5:28.0.4-1~ubuntu.24.04~noble", "5:28.0.1-1~ubuntu.24.04~noble", false, "docker.service", false},
	{"landscape-common", "24.02-0ubuntu5.3", "24.02-0ubuntu5.1", true, "", false},
	{"unattended-upgrades", "2.9.1+nmu4ubuntu1", "2.9.1+nmu4", true, "unattended-upgrades.service", false},
}

func (g *Generator) pickPkgs(n int) []pkg {
	out := make([]pkg, 0, n)
	start := g.intn(len(pkgs))
	step := 1 + g.intn(3)
	for i := 0; i < n; i++ {
		out = append(out, pkgs[(start+i*step)%len(pkgs)])
	}
	return out
}

func (g *Generator) mirrors(h *host) []string {
	if h.os.ubuntu {
		return ipUbuntuMirrors
	}
	return ipDebianMirrors
}

// startApt runs "apt args..." from an interactive session, through sudo
// unless the session is root's.
func (b *builder) startApt(t int64, args ...string) (apt, sudo *proc, t2 int64) {
	s, t := b.session(t, b.g.chance(0.3))
	if s.user == acctRoot {
		apt, t = b.spawn(t, s.shell, true, "/usr/bin/apt", args...)
		return apt, nil, t
	}
	sudo, t = b.spawn(t, s.shell, true, "/usr/bin/sudo", append([]string{"sudo"}, args...)...)
	sudo.user, sudo.egrp = acctRoot, sudo.ruser // setuid root: the caller's group stays
	t += b.g.between(10, 80)
	apt, t = b.spawn(t, sudo, false, "/usr/bin/apt", args...)
	apt.user, apt.ruser, apt.egrp = acctRoot, acctRoot, nil
	return apt, sudo, t
}

func (b *builder) finishApt(t int64, apt, sudo *proc) int64 {
	t += b.g.between(5, 200)
	b.end(t, apt, 0)
	if sudo != nil {
		t += b.g.between(1, 5)
		b.end(t, sudo, 0)
	}
	return t
}

// aptFetch runs apt's http acquire methods, which connect to the mirrors
// (their parent is apt itself, not a shell).
func (b *builder) aptFetch(t int64, apt *proc, n int) int64 {
	g := b.g
	end := t
	for i := 0; i < n; i++ {
		m, tm := b.spawn(t, apt, false, "/usr/lib/apt/methods/http", "/usr/lib/apt/methods/http")
		m.user, m.ruser = acctApt, acctApt
		dur := g.jitter(700)
		b.connect(tm+g.between(2, 30), m, pick(g, g.mirrors(b.h)), 80, false, dur)
		e := tm + dur + g.between(40, 300)
		b.end(e, m, 0)
		end = max(end, e)
		t += g.between(1, 40)
	}
	return end + g.between(20, 400)
}

// aptHook runs one APT hook: apt always runs them as "sh -c <line>".
func (b *builder) aptHook(t int64, apt *proc, line string) (*proc, int64) {
	return b.spawn(t, apt, false, "/usr/bin/dash", "sh", "-c", line)
}

// hookChild runs a child of a hook shell and ends it, returning the time the
// hook shell may end.
func (b *builder) hookChild(t int64, sh *proc, dur int64, exe string, args ...string) (*proc, int64) {
	c, t := b.spawn(t, sh, false, exe, args...)
	t += b.g.jitter(dur)
	b.end(t, c, 0)
	return c, t + b.g.between(1, 5)
}

// Benign hooks, each in the shape the rules exclude.
func (b *builder) hookCNF(t int64, apt *proc) int64 {
	g := b.g
	sh, t := b.aptHook(t, apt, "if /usr/bin/test -w /var/lib/command-not-found/ -a -e /usr/lib/cnf-update-db; then /usr/lib/cnf-update-db > /dev/null; fi")
	_, t = b.hookChild(t+g.between(1, 3), sh, 2, "/usr/bin/test", "/usr/bin/test", "-w", "/var/lib/command-not-found/", "-a", "-e", "/usr/lib/cnf-update-db")
	c, t := b.hookChild(t, sh, 900, "/usr/bin/"+b.h.os.python, "/usr/bin/python3", "/usr/lib/cnf-update-db")
	b.file(c.start+g.between(100, 800), c, evFileModify, "/var/lib/command-not-found/commands.db", g.between(1<<20, 1<<23))
	b.end(t, sh, 0)
	return t
}

func (b *builder) hookMotd(t int64, apt *proc) int64 {
	sh, t := b.aptHook(t, apt, "/usr/lib/update-notifier/update-motd-updates-available 2>/dev/null || true")
	_, t = b.hookChild(t+b.g.between(1, 3), sh, 1200, "/usr/bin/dash", "/bin/sh", "-e", "/usr/lib/update-notifier/update-motd-updates-available")
	b.end(t, sh, 0)
	return t
}

func (b *builder) hookNeedrestart(t int64, apt *proc) int64 {
	sh, t := b.aptHook(t, apt, "test -x /usr/lib/needrestart/apt-pinvoke && /usr/lib/needrestart/apt-pinvoke -m u || true")
	c, t2 := b.spawn(t+b.g.between(1, 3), sh, false, "/usr/bin/dash", "/bin/sh", "/usr/lib/needrestart/apt-pinvoke", "-m", "u")
	_, t3 := b.hookChild(t2+b.g.between(1, 5), c, 1500, "/usr/bin/perl", "/usr/bin/perl", "/usr/sbin/needrestart", "-m", "u")
	b.end(t3, c, 0)
	b.end(t3+b.g.between(1, 4), sh, 0)
	return t3 + 5
}

func (b *builder) hookPreconfigure(t int64, apt *proc) int64 {
	sh, t := b.aptHook(t, apt, "/usr/sbin/dpkg-preconfigure --apt || true")
	_, t = b.hookChild(t+b.g.between(1, 3), sh, 400, "/usr/bin/perl", "/usr/bin/perl", "-w", "/usr/sbin/dpkg-preconfigure", "--apt")
	b.end(t, sh, 0)
	return t
}

func (b *builder) hookListchanges(t int64, apt *proc) int64 {
	sh, t := b.aptHook(t, apt, "/usr/bin/apt-listchanges --apt || test $? -lt 10")
	_, t = b.hookChild(t+b.g.between(1, 3), sh, 700, "/usr/bin/"+b.h.os.python, "/usr/bin/python3", "/usr/bin/apt-listchanges", "--apt")
	b.end(t, sh, 0)
	return t
}

// dpkgRun unpacks and configures packages the way apt drives dpkg: the
// maintainer scripts run with dpkg (or debconf's frontend) as parent.
func (b *builder) dpkgRun(t int64, parent *proc, ps []pkg) int64 {
	g := b.g
	args := []string{"/usr/bin/dpkg", "--status-fd", fmt.Sprint(30 + g.intn(30)), "--no-triggers", "--unpack", "--auto-deconfigure"}
	for _, p := range ps {
		args = append(args, fmt.Sprintf("/var/cache/apt/archives/%s_%s_amd64.deb", p.name, escVer(p.ver)))
	}
	d, t := b.spawn(t, parent, false, "/usr/bin/dpkg", args...)
	for _, p := range ps {
		t += g.between(20, 400)
		b.file(t, d, evFileCreate, "/usr/share/doc/"+p.name+"/changelog.Debian.gz", g.between(1<<10, 1<<18))
		b.file(t+g.between(1, 20), d, evFileModify, "/var/lib/dpkg/info/"+p.name+".postinst", g.between(500, 9000))
	}
	t += g.between(10, 100)
	b.end(t, d, 0)

	d, t = b.spawn(t+g.between(5, 50), parent, false, "/usr/bin/dpkg", "/usr/bin/dpkg", "--status-fd", fmt.Sprint(30+g.intn(30)), "--configure", "--pending")
	for _, p := range ps {
		path := "/var/lib/dpkg/info/" + p.name + ".postinst"
		s, ts := b.spawn(t+g.between(5, 60), d, false, path, path, "configure", p.old)
		script := s
		if p.debconf {
			// confmodule re-execs the script under debconf's frontend,
			// which runs it again as its child.
			ts += g.between(2, 20)
			fe := b.exec(ts, s, "/usr/share/debconf/frontend", []string{"/usr/bin/perl", "-w", "/usr/share/debconf/frontend", path, "configure", p.old})
			script, ts = b.spawn(ts+g.between(30, 300), fe, false, path, path, "configure", p.old)
			t = b.postinstChildren(ts, script, p)
			b.end(t, script, 0)
			t += g.between(1, 10)
			b.end(t, fe, 0)
			continue
		}
		t = b.postinstChildren(ts, script, p)
		b.end(t, script, 0)
	}
	t += g.between(10, 200)
	b.end(t, d, 0)
	return t
}

func escVer(v string) string {
	out := make([]byte, 0, len(v)+4)
	for i := 0; i < len(v); i++ {
		if v[i] == ':' {
			out = append(out, "%3a"...)
			continue
		}
		out = append(out, v[i])
	}
	return string(out)
}

// postinstChildren runs what a postinst typically runs; every child's
// parent is the script, whose executable is under /var/lib/dpkg/info.
func (b *builder) postinstChildren(t int64, script *proc, p pkg) int64 {
	g := b.g
	t += g.between(2, 30)
	if p.lib {
		_, t = b.hookChild(t, script, 40, "/usr/sbin/ldconfig", "/sbin/ldconfig")
	}
	if p.svc != "" {
		_, t = b.hookChild(t, script, 90, "/usr/bin/deb-systemd-helper", "/usr/bin/perl", "/usr/bin/deb-systemd-helper", "unmask", p.svc)
		inv, ti := b.spawn(t, script, false, "/usr/bin/deb-systemd-invoke", "/usr/bin/perl", "/usr/bin/deb-systemd-invoke", "restart", p.svc)
		_, ti = b.hookChild(ti+g.between(5, 30), inv, 400, "/usr/bin/systemctl", "systemctl", "--quiet", "--system", "restart", p.svc)
		b.end(ti, inv, 0)
		t = ti + g.between(1, 10)
	}
	if p.name == "landscape-common" {
		_, t = b.hookChild(t, script, 3, "/usr/bin/chmod", "chmod", "+x", "/etc/update-motd.d/50-landscape-sysinfo")
	}
	if !p.lib && p.svc == "" && p.name != "landscape-common" {
		_, t = b.hookChild(t, script, 30, "/usr/bin/update-alternatives", "update-alternatives", "--quiet", "--install", "/usr/bin/editor", "editor", "/usr/bin/vim.basic", "30")
	}
	return t + g.between(1, 20)
}

func (g *Generator) bgAptUpdate(b *builder) {
	apt, sudo, t := b.startApt(b.t0, "apt", "update")
	t = b.aptFetch(t+g.between(5, 40), apt, 3+g.intn(4))
	if b.h.os.ubuntu {
		t = b.hookCNF(t, apt)
		t = b.hookMotd(t+g.between(1, 20), apt)
	}
	b.finishApt(t, apt, sudo)
}

func (g *Generator) bgAptUpgrade(b *builder) {
	args := []string{"apt", "upgrade", "-y"}
	n := 2 + g.intn(4)
	ps := g.pickPkgs(n)
	if g.chance(0.4) {
		n = 1
		ps = ps[:1]
		args = []string{"apt", "install", "-y", ps[0].name}
	}
	apt, sudo, t := b.startApt(b.t0, args...)
	t = b.aptFetch(t+g.between(5, 40), apt, 1+g.intn(3))
	t = b.hookPreconfigure(t, apt)
	if !b.h.os.ubuntu {
		t = b.hookListchanges(t+g.between(1, 20), apt)
	}
	t = b.dpkgRun(t+g.between(10, 100), apt, ps)
	if g.chance(0.6) {
		t = b.hookNeedrestart(t+g.between(1, 20), apt)
	}
	if b.h.os.ubuntu {
		t = b.hookMotd(t+g.between(1, 20), apt)
	}
	b.finishApt(t, apt, sudo)
}

// bgAptDaily is apt-daily.service: a shell script that runs apt-get, whose
// hooks have apt-get (not apt) as parent.
func (g *Generator) bgAptDaily(b *builder) {
	sh, t := b.service(b.t0, "/usr/bin/dash", "/bin/sh", "/usr/lib/apt/apt.systemd.daily", "update")
	_, t = b.hookChild(t+g.between(2, 20), sh, 30, "/usr/bin/apt-config", "apt-config", "shell", "StampDir", "Dir::State::Periodic/d")
	ag, t := b.spawn(t+g.between(2, 50), sh, false, "/usr/bin/apt-get", "apt-get", "-qq", "-y", "update")
	t = b.aptFetch(t+g.between(5, 40), ag, 2+g.intn(4))
	if b.h.os.ubuntu {
		t = b.hookCNF(t, ag)
	}
	t += g.between(5, 100)
	b.end(t, ag, 0)
	b.end(t+g.between(5, 50), sh, 0)
}

// bgUnattendedUpgrade is unattended-upgrades installing security updates.
func (g *Generator) bgUnattendedUpgrade(b *builder) {
	uu, t := b.service(b.t0, "/usr/bin/unattended-upgrade", "/usr/bin/python3", "/usr/bin/unattended-upgrade")
	t = b.aptFetch(t+g.between(200, 2000), uu, 1+g.intn(2))
	t = b.dpkgRun(t+g.between(10, 100), uu, g.pickPkgs(1+g.intn(3)))
	b.end(t+g.between(100, 900), uu, 0)
}
