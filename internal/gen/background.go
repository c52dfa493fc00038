package gen

import (
	"fmt"
	"strconv"
)

// buildBackground builds one unit of benign activity. None of it matches the
// four rules: apt hooks and dpkg maintainer scripts appear only in the shapes
// the rules exclude.
func (g *Generator) buildBackground(b *builder) {
	x := g.intn(1000)
	switch {
	case x < 280:
		g.bgShellCommand(b)
	case x < 500:
		g.bgDaemonNetwork(b)
	case x < 650:
		g.bgFileActivity(b)
	case x < 800:
		g.bgCronJob(b)
	case x < 870:
		g.bgSystemdUnit(b)
	case x < 972:
		g.bgAppNetwork(b)
	case x < 990:
		b.newSession(b.t0, g.chance(0.15))
	case x < 994:
		g.bgAptUpdate(b)
	case x < 997:
		g.bgAptUpgrade(b)
	case x < 999:
		g.bgAptDaily(b)
	default:
		g.bgUnattendedUpgrade(b)
	}
}

// filler builds a single event.
func (g *Generator) filler(b *builder) {
	h, t := b.h, b.t0
	switch g.intn(3) {
	case 0:
		b.file(t, h.rsyslog, evFileModify, pick(g, []string{"/var/log/syslog", "/var/log/auth.log", "/var/log/kern.log"}), g.between(1<<16, 1<<26))
	case 1:
		b.file(t, h.journald, evFileModify, "/var/log/journal/"+h.id+"/system.journal", g.between(1<<23, 1<<27))
	default:
		b.connect(t, h.resolved, pick(g, []string{ipResolver, pick(g, ipDNS)}), 53, true, -1)
	}
}

// newSession logs a user in over SSH: sshd accepts, forks its privileged and
// user children, and the user's child execs a login shell, which is entry,
// session and group leader of what the user runs. The session's end events
// are scheduled too.
func (b *builder) newSession(t int64, root bool) (*session, int64) {
	g, h := b.g, b.h
	user := acctRoot
	if !root {
		user = pick(g, interactiveUsers)
	}
	src := g.privateIP()
	if g.chance(0.2) {
		src = pick(g, ipClients)
	}
	life := g.between(5*60_000, 90*60_000)
	t0 := t
	t += g.between(2, 15)
	priv := b.fork(t, h.sshd, false)
	priv.session, priv.group = priv, priv
	priv.args = []string{"sshd: " + user.name + " [priv]"}
	priv.cmdline = priv.args[0]
	t += g.between(150, 1200)
	usr := b.fork(t, priv, false)
	usr.user, usr.ruser = user, user
	usr.args = []string{"sshd: " + user.name + "@pts/" + strconv.Itoa(g.intn(8))}
	usr.cmdline = usr.args[0]
	t += g.between(3, 25)
	sh, t := b.spawn(t, usr, false, "/usr/bin/bash", "-bash")
	daemonize(sh, "sshd")
	sh.entrySrcIP = src
	sh.tty = 1 + int64(g.intn(8))
	sh.cwd = user.home
	s := &session{shell: sh, user: user, endAt: t + life}
	b.accept(t0, h.sshd, src, 22, s.endAt+12-t0)
	b.file(t+g.between(1, 30), h.rsyslog, evFileModify, "/var/log/auth.log", g.between(1<<16, 1<<22))
	b.end(s.endAt, sh, 0)
	b.end(s.endAt+g.between(2, 6), usr, 255)
	b.end(s.endAt+g.between(7, 11), priv, 0)
	b.newSessions = append(b.newSessions, s)
	return s, t
}

// session returns a live session (root or not) on the builder's host,
// logging a new one in when there is none.
func (b *builder) session(t int64, root bool) (*session, int64) {
	if s := b.h.liveSession(b.g, t, root); s != nil {
		return s, t
	}
	for _, s := range b.newSessions {
		if (s.user == acctRoot) == root {
			return s, t
		}
	}
	return b.newSession(t, root)
}

type netOp struct {
	ip   string
	port int32
	udp  bool
	dur  int64
}

type fileOp struct {
	kind evKind
	path string
	size int64
}

// cmd is a command line run by a shell.
type cmd struct {
	exe   string
	args  []string
	sudo  bool
	dur   int64
	exit  int32
	nets  []netOp
	files []fileOp
	pipe  *cmd // next command of a pipeline
}

// runCmd runs c (and its pipeline) as a job of shell parent and returns the
// time the job ended. Interactive shells put each job in its own process
// group.
func (b *builder) runCmd(t int64, parent *proc, c *cmd, jobControl bool) int64 {
	g := b.g
	par := parent
	var sudo *proc
	if c.sudo {
		sudo, t = b.spawn(t, parent, jobControl, "/usr/bin/sudo", append([]string{"sudo"}, c.args...)...)
		sudo.user, sudo.egrp = acctRoot, sudo.ruser // setuid root: the caller's group stays
		par, jobControl = sudo, false
		t += g.between(8, 60)
	}
	var procs []*proc
	for cc := c; cc != nil; cc = cc.pipe {
		p, te := b.spawn(t, par, jobControl && cc == c, cc.exe, cc.args...)
		if c.sudo {
			p.user, p.ruser, p.egrp = acctRoot, acctRoot, nil
		}
		if jobControl && cc != c {
			p.group = procs[0].group
		}
		procs = append(procs, p)
		t = te + g.between(0, 2)
	}
	end := t
	for i, p := range procs {
		cc := c
		for range i {
			cc = cc.pipe
		}
		tt := p.start + g.between(2, 20)
		for _, n := range cc.nets {
			d := n.dur
			if d >= 0 {
				d = g.jitter(d)
			}
			b.connect(tt, p, n.ip, n.port, n.udp, d)
			tt += g.between(5, 200)
		}
		for _, f := range cc.files {
			tt += g.between(1, 300)
			b.file(tt, p, f.kind, f.path, f.size)
		}
		pe := max(tt+g.between(1, 20), p.start+g.jitter(cc.dur))
		for _, n := range cc.nets {
			pe = max(pe, tt+n.dur*3+50)
		}
		b.end(pe, p, cc.exit)
		end = max(end, pe)
	}
	if sudo != nil {
		end += g.between(1, 6)
		b.end(end, sudo, c.exit)
	}
	return end
}

func (g *Generator) bgShellCommand(b *builder) {
	s, t := b.session(b.t0, g.chance(0.12))
	n := 1
	if g.chance(0.25) {
		n += 1 + g.intn(3)
	}
	for range n {
		if t > s.endAt-100_000 {
			break // the user is about to log out
		}
		c := g.userCommand(b.h, s)
		t = b.runCmd(t, s.shell, c, true) + g.between(300, 8000)
	}
	if g.chance(0.3) {
		b.file(t, s.shell, evFileModify, s.user.home+"/.bash_history", g.between(2000, 90000))
	}
}

func (g *Generator) userCommand(h *host, s *session) *cmd {
	home := s.user.home
	root := s.user == acctRoot
	sudo := !root && g.chance(0.5)
	switch g.intn(34) {
	case 0:
		return &cmd{exe: "/usr/bin/ls", args: []string{"ls", "--color=auto", "-la", pick(g, []string{home, "/var/log", "/etc/nginx/sites-enabled", "/srv/app", "/tmp"})}, dur: 4}
	case 1:
		return &cmd{exe: "/usr/bin/cat", args: []string{"cat", pick(g, []string{"/etc/os-release", "/etc/hosts", "/proc/meminfo", home + "/.ssh/config", "/etc/resolv.conf"})}, dur: 2}
	case 2:
		return &cmd{exe: "/usr/bin/grep", args: []string{"grep", "--color=auto", "-rn", pick(g, []string{"ERROR", "timeout", "Failed password", "upstream"}), pick(g, []string{"/var/log/nginx/error.log", "/var/log/auth.log", "/srv/app/logs/app.log"})}, sudo: sudo, dur: 40}
	case 3:
		return &cmd{exe: "/usr/bin/tail", args: []string{"tail", "-n", "200", pick(g, []string{"/var/log/syslog", "/var/log/nginx/access.log", "/srv/app/logs/app.log"})}, sudo: sudo, dur: 6}
	case 4:
		return &cmd{exe: "/usr/bin/ps", args: []string{"ps", "auxf"}, dur: 30, pipe: &cmd{exe: "/usr/bin/grep", args: []string{"grep", "--color=auto", pick(g, []string{"nginx", "python", "postgres", "java", "defunct"})}, dur: 30, exit: int32(g.intn(2))}}
	case 5:
		return &cmd{exe: "/usr/bin/df", args: []string{"df", "-h"}, dur: 3}
	case 6:
		return &cmd{exe: "/usr/bin/free", args: []string{"free", "-m"}, dur: 2}
	case 7:
		return &cmd{exe: "/usr/bin/top", args: []string{"top", "-b", "-n", "1"}, dur: 350}
	case 8:
		return &cmd{exe: "/usr/bin/systemctl", args: []string{"systemctl", "status", pick(g, []string{"nginx.service", "postgresql@16-main.service", "elastic-agent.service", "ssh.service", "cron.service"})}, dur: 60, exit: int32(g.intn(2) * 3)}
	case 9:
		return &cmd{exe: "/usr/bin/journalctl", args: []string{"journalctl", "-u", pick(g, []string{"nginx", "ssh", "cron", "docker"}), "--since", "1 hour ago", "--no-pager"}, sudo: sudo, dur: 120}
	case 10:
		f := pick(g, []string{home + "/notes.md", home + "/deploy.yaml", "/srv/app/config/settings.py"})
		dir, name := splitPath(f)
		return &cmd{exe: "/usr/bin/vim.basic", args: []string{"vim", f}, dur: 45000, files: []fileOp{
			{evFileCreate, dir + "/." + name + ".swp", 12288}, {evFileModify, f, g.between(200, 20000)}, {evFileDelete, dir + "/." + name + ".swp", 12288},
		}}
	case 11:
		return &cmd{exe: "/usr/bin/git", args: []string{"git", "-C", "/srv/app", "pull", "--ff-only"}, dur: 1500,
			nets:  []netOp{{ip: pick(g, ipGithub), port: 443, dur: 900}},
			files: []fileOp{{evFileModify, "/srv/app/.git/FETCH_HEAD", g.between(100, 900)}, {evFileModify, "/srv/app/.git/ORIG_HEAD", 41}}}
	case 12:
		return &cmd{exe: "/usr/bin/git", args: []string{"git", "status", "--short"}, dur: 25}
	case 13:
		return &cmd{exe: "/usr/bin/curl", args: []string{"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\n", pick(g, []string{"https://api.github.com/repos/elastic/detection-rules", "https://pypi.org/simple/requests/", "https://status.example.com/health"})}, dur: 400,
			nets: []netOp{{ip: pick(g, ipAPIs), port: 443, dur: 300}}}
	case 14:
		return &cmd{exe: "/usr/bin/curl", args: []string{"curl", "-s", fmt.Sprintf("http://%s:8080/healthz", g.privateIP())}, dur: 40,
			nets: []netOp{{ip: g.privateIP(), port: 8080, dur: 20}}}
	case 15:
		return &cmd{exe: "/usr/bin/wget", args: []string{"wget", "-q", "https://github.com/prometheus/node_exporter/releases/download/v1.8.2/node_exporter-1.8.2.linux-amd64.tar.gz"}, dur: 2500,
			nets:  []netOp{{ip: pick(g, ipGithub), port: 443, dur: 2000}},
			files: []fileOp{{evFileCreate, home + "/node_exporter-1.8.2.linux-amd64.tar.gz", 10676343}}}
	case 16:
		return &cmd{exe: "/usr/bin/" + h.os.python, args: []string{"python3", "manage.py", pick(g, []string{"showmigrations", "check", "shell -c 'print(1)'"})}, dur: 1800,
			nets: []netOp{{ip: fmt.Sprintf("10.11.0.%d", 4+g.intn(4)), port: 5432, dur: 600}}}
	case 17:
		return &cmd{exe: "/usr/bin/ssh", args: []string{"ssh", "deploy@" + g.privateIP()}, dur: 90000,
			nets: []netOp{{ip: g.privateIP(), port: 22, dur: 80000}}}
	case 18:
		return &cmd{exe: "/usr/bin/scp", args: []string{"scp", "/tmp/backup.tgz", "deploy@" + g.privateIP() + ":/var/backups/"}, dur: 3000,
			nets: []netOp{{ip: g.privateIP(), port: 22, dur: 2500}}}
	case 19:
		return &cmd{exe: "/usr/bin/" + h.os.python, args: []string{"/usr/bin/python3", "-m", "pip", "install", "--user", "-r", "requirements.txt"}, dur: 6000,
			nets:  []netOp{{ip: pick(g, ipPypi), port: 443, dur: 3000}, {ip: pick(g, ipPypi), port: 443, dur: 2000}},
			files: []fileOp{{evFileCreate, home + "/.local/lib/" + h.os.python + "/site-packages/requests/__init__.py", 4924}}}
	case 20:
		return &cmd{exe: "/usr/bin/chmod", args: []string{"chmod", "+x", pick(g, []string{home + "/scripts/deploy.sh", home + "/bin/backup.sh", "/srv/app/bin/migrate.sh", "/opt/tools/run.sh"})}, dur: 2}
	case 21:
		return &cmd{exe: "/usr/bin/chmod", args: []string{"chmod", pick(g, []string{"600", "644", "700"}), pick(g, []string{home + "/.ssh/authorized_keys", home + "/.ssh/id_ed25519", home + "/notes.md"})}, dur: 2}
	case 22:
		d := fmt.Sprintf("%s/build-%d", pick(g, []string{home, "/tmp"}), g.intn(1000))
		return &cmd{exe: "/usr/bin/mkdir", args: []string{"mkdir", "-p", d}, dur: 2}
	case 23:
		f := fmt.Sprintf("/tmp/tmp.%s", g.token(10))
		return &cmd{exe: "/usr/bin/rm", args: []string{"rm", "-f", f}, dur: 2, files: []fileOp{{evFileDelete, f, 0}}}
	case 24:
		return &cmd{exe: "/usr/bin/tar", args: []string{"tar", "-czf", "/tmp/logs.tgz", "/var/log/nginx"}, sudo: sudo, dur: 900,
			files: []fileOp{{evFileCreate, "/tmp/logs.tgz", g.between(1<<16, 1<<24)}}}
	case 25:
		if h.role == "build" || h.role == "k8s" {
			return &cmd{exe: "/usr/bin/docker", args: []string{"docker", "ps", "--format", "{{.Names}}\t{{.Status}}"}, sudo: sudo, dur: 80}
		}
		return &cmd{exe: "/usr/bin/uptime", args: []string{"uptime"}, dur: 2}
	case 26:
		if h.role == "k8s" {
			return &cmd{exe: "/usr/local/bin/kubectl", args: []string{"kubectl", "get", "pods", "-A", "-o", "wide"}, dur: 700,
				nets: []netOp{{ip: ipK8sAPI, port: 6443, dur: 400}}}
		}
		return &cmd{exe: "/usr/bin/id", args: []string{"id"}, dur: 1}
	case 27:
		return &cmd{exe: "/usr/bin/systemctl", args: []string{"systemctl", pick(g, []string{"restart", "reload"}), pick(g, []string{"nginx", "app", "cron", "rsyslog"})}, sudo: !root, dur: 900}
	case 28:
		return &cmd{exe: "/usr/bin/tail", args: []string{"tail", "-f", "/var/log/auth.log"}, sudo: !root, dur: 30000, exit: 130}
	case 29:
		return &cmd{exe: "/usr/bin/vim.basic", args: []string{"vim", "/etc/nginx/nginx.conf"}, sudo: !root, dur: 60000,
			files: []fileOp{{evFileCreate, "/etc/nginx/.nginx.conf.swp", 12288}, {evFileModify, "/etc/nginx/nginx.conf", g.between(1500, 3000)}, {evFileDelete, "/etc/nginx/.nginx.conf.swp", 12288}}}
	case 30:
		return &cmd{exe: "/usr/bin/crontab", args: []string{"crontab", "-l"}, dur: 3, exit: int32(g.intn(2))}
	case 31:
		return &cmd{exe: "/usr/bin/dig", args: []string{"dig", "+short", pick(g, []string{"github.com", "archive.ubuntu.com", "db.internal", "example.org"})}, dur: 30,
			nets: []netOp{{ip: ipStub, port: 53, udp: true, dur: -1}}}
	case 32:
		return &cmd{exe: "/usr/bin/htop", args: []string{"htop"}, dur: 20000}
	default:
		return &cmd{exe: "/usr/bin/less", args: []string{"less", "/var/log/syslog"}, sudo: sudo, dur: 15000}
	}
}

func splitPath(p string) (dir, name string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i], p[i+1:]
		}
	}
	return ".", p
}

func (g *Generator) token(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.intn(len(alphabet))]
	}
	return string(b)
}

// bgDaemonNetwork is one connection of a system daemon.
func (g *Generator) bgDaemonNetwork(b *builder) {
	h, t := b.h, b.t0
	switch g.intn(10) {
	case 0, 1:
		b.connect(t, h.endpoint, pick(g, ipElasticCloud), 443, false, g.jitter(300))
	case 2:
		b.connect(t, h.agent, ipFleet, 8220, false, g.jitter(30000))
	case 3, 4:
		b.connect(t, h.resolved, pick(g, []string{ipResolver, pick(g, ipDNS)}), 53, true, -1)
	case 5:
		b.connect(t, h.timesyncd, pick(g, ipNTP), 123, true, -1)
	case 6:
		// a failed or scanning SSH connection
		src := pick(g, ipClients)
		if g.chance(0.5) {
			src = g.publicIPv4()
		}
		b.accept(t, h.sshd, src, 22, g.jitter(1500))
		b.file(t+g.between(5, 500), h.rsyslog, evFileModify, "/var/log/auth.log", g.between(1<<16, 1<<22))
	case 7:
		b.connect(t, h.agent, ipMetadata, 80, false, g.jitter(20))
	default:
		if len(h.daemons) > 0 {
			g.bgAppNetwork(b)
			return
		}
		b.connect(t, h.endpoint, pick(g, ipElasticCloud), 443, false, g.jitter(300))
	}
}

// bgAppNetwork is traffic of the host's role service.
func (g *Generator) bgAppNetwork(b *builder) {
	h, t := b.h, b.t0
	if len(h.daemons) == 0 {
		b.connect(t, h.endpoint, pick(g, ipElasticCloud), 443, false, g.jitter(300))
		return
	}
	d := h.daemons[0]
	switch h.role {
	case "web":
		src := pick(g, []string{ipLB1, ipLB2})
		b.accept(t, d, src, 443, g.jitter(80))
		if g.chance(0.5) {
			b.connect(t+g.between(1, 5), d, fmt.Sprintf("10.12.0.%d", 4+g.intn(4)), 8000, false, g.jitter(60))
		}
		b.file(t+g.between(20, 200), d, evFileModify, "/var/log/nginx/access.log", g.between(1<<20, 1<<28))
	case "db":
		b.accept(t, d, fmt.Sprintf("10.12.0.%d", 4+g.intn(4)), 5432, g.jitter(2000))
		if g.chance(0.4) {
			b.file(t+g.between(10, 900), d, evFileModify, fmt.Sprintf("/var/lib/postgresql/16/main/pg_wal/0000000100000%03X000000%02X", g.intn(4096), g.intn(256)), 16777216)
		}
	case "app":
		b.accept(t, d, fmt.Sprintf("10.10.0.%d", 4+g.intn(4)), 8000, g.jitter(70))
		b.connect(t+g.between(1, 4), d, fmt.Sprintf("10.11.0.%d", 4+g.intn(4)), 5432, false, g.jitter(30))
		if g.chance(0.2) {
			b.connect(t+g.between(5, 20), d, pick(g, ipAPIs), 443, false, g.jitter(250))
		}
	case "build":
		b.connect(t, d, pick(g, ipDocker), 443, false, g.jitter(4000))
	case "k8s":
		b.connect(t, d, ipK8sAPI, 6443, false, g.jitter(10000))
	}
}

// bgFileActivity is a file write by a daemon.
func (g *Generator) bgFileActivity(b *builder) {
	h, t := b.h, b.t0
	switch g.intn(6) {
	case 0, 1:
		b.file(t, h.rsyslog, evFileModify, pick(g, []string{"/var/log/syslog", "/var/log/auth.log", "/var/log/kern.log", "/var/log/cron.log"}), g.between(1<<16, 1<<26))
	case 2:
		b.file(t, h.journald, evFileModify, "/var/log/journal/"+h.id+"/system.journal", g.between(1<<23, 1<<27))
	case 3:
		p := fmt.Sprintf("/opt/Elastic/Endpoint/state/log/endpoint-%06d.log", g.intn(200))
		b.file(t, h.endpoint, evFileModify, p, g.between(1<<16, 1<<24))
	case 4:
		f := fmt.Sprintf("/opt/Elastic/Agent/data/elastic-agent-%s/run/%s.tmp", h.agentID[:6], g.token(8))
		b.file(t, h.agent, evFileCreate, f, g.between(100, 10000))
		b.file(t+g.between(1, 50), h.agent, evFileDelete, f, 0)
	default:
		if len(h.daemons) > 0 && h.role == "web" {
			b.file(t, h.daemons[0], evFileModify, "/var/log/nginx/access.log", g.between(1<<20, 1<<28))
		} else {
			b.file(t, h.rsyslog, evFileModify, "/var/log/syslog", g.between(1<<16, 1<<26))
		}
	}
}

// cronChild forks cron's job process, which runs "/bin/sh -c line".
func (b *builder) cronShell(t int64, user *account, line string) (*proc, int64) {
	g, h := b.g, b.h
	job := b.fork(t, h.cron, false)
	job.session, job.group = job, job
	job.user, job.ruser, job.cwd = user, user, user.home
	t += g.between(1, 4)
	sh, t := b.spawn(t, job, false, "/usr/bin/dash", "/bin/sh", "-c", line)
	b.file(t+g.between(1, 5), h.rsyslog, evFileModify, "/var/log/cron.log", g.between(1<<12, 1<<20))
	return sh, t
}

func (g *Generator) bgCronJob(b *builder) {
	h, t := b.h, b.t0
	var c *cmd
	user := acctRoot
	line := ""
	switch g.intn(8) {
	case 0:
		line = "cd / && run-parts --report /etc/cron.hourly"
		c = &cmd{exe: "/usr/bin/run-parts", args: []string{"run-parts", "--report", "/etc/cron.hourly"}, dur: 30}
	case 1:
		line = "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi"
	case 2:
		line = "/usr/local/bin/backup.sh >> /var/log/backup.log 2>&1"
		c = &cmd{exe: "/usr/bin/bash", args: []string{"/bin/bash", "/usr/local/bin/backup.sh"}, dur: 8000,
			files: []fileOp{{evFileCreate, fmt.Sprintf("/var/backups/db-%d.sql.gz", g.intn(100000)), g.between(1<<20, 1<<28)}, {evFileModify, "/var/log/backup.log", g.between(1<<10, 1<<20)}},
			nets:  []netOp{{ip: fmt.Sprintf("10.11.0.%d", 4+g.intn(4)), port: 5432, dur: 5000}}}
	case 3:
		user = acctDeploy
		line = "/usr/bin/python3 /opt/monitor/check_health.py --quiet"
		c = &cmd{exe: "/usr/bin/" + h.os.python, args: []string{"/usr/bin/python3", "/opt/monitor/check_health.py", "--quiet"}, dur: 900,
			nets: []netOp{{ip: g.privateIP(), port: 8000, dur: 40}, {ip: g.privateIP(), port: 9100, dur: 30}}}
	case 4:
		line = "test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew"
		c = &cmd{exe: "/usr/bin/test", args: []string{"test", "-x", "/usr/bin/certbot", "-a", "!", "-d", "/run/systemd/system"}, dur: 1, exit: 1}
	case 5:
		user = pick(g, interactiveUsers)
		u := g.uuid()
		line = "curl -fsS -m 10 --retry 5 -o /dev/null https://hc-ping.com/" + u
		c = &cmd{exe: "/usr/bin/curl", args: []string{"curl", "-fsS", "-m", "10", "--retry", "5", "-o", "/dev/null", "https://hc-ping.com/" + u}, dur: 300,
			nets: []netOp{{ip: pick(g, ipHealthcheck), port: 443, dur: 200}}}
	case 6:
		line = "/usr/lib/sysstat/debian-sa1 1 1"
		c = &cmd{exe: "/usr/lib/sysstat/sadc", args: []string{"/usr/lib/sysstat/sadc", "-F", "-L", "-S", "DISK", "1", "1", "/var/log/sysstat"}, dur: 1100,
			files: []fileOp{{evFileModify, fmt.Sprintf("/var/log/sysstat/sa%02d", 1+g.intn(28)), g.between(1<<16, 1<<20)}}}
	default:
		user = acctWWW
		line = "php /var/www/app/artisan schedule:run >> /dev/null 2>&1"
		c = &cmd{exe: "/usr/bin/php8.3", args: []string{"php", "/var/www/app/artisan", "schedule:run"}, dur: 700,
			nets: []netOp{{ip: fmt.Sprintf("10.11.0.%d", 4+g.intn(4)), port: 3306, dur: 300}}}
	}
	sh, t := b.cronShell(t, user, line)
	end := t + g.between(1, 10)
	if c != nil {
		end = b.runCmd(t+g.between(1, 3), sh, c, false)
	}
	b.end(end+g.between(1, 4), sh, 0)
	b.end(end+g.between(5, 9), sh.parent, 0)
}

// service starts a systemd unit's main process.
func (b *builder) service(t int64, exe string, args ...string) (*proc, int64) {
	c := b.fork(t, b.h.systemd, false)
	daemonize(c, "init")
	t += b.g.between(1, 3)
	return b.exec(t, c, exe, args), t
}

func (g *Generator) bgSystemdUnit(b *builder) {
	h, t := b.h, b.t0
	switch g.intn(6) {
	case 0:
		p, t := b.service(t, "/usr/bin/systemd-tmpfiles", "/usr/bin/systemd-tmpfiles", "--clean")
		f := fmt.Sprintf("/tmp/systemd-private-%s-chronyd.service-%s", h.id[:12], g.token(6))
		b.file(t+g.between(5, 80), p, evFileDelete, f, 0)
		b.end(t+g.jitter(120), p, 0)
	case 1:
		p, t := b.service(t, "/usr/sbin/logrotate", "/usr/sbin/logrotate", "/etc/logrotate.conf")
		t += g.between(5, 40)
		b.file(t, p, evFileCreate, "/var/log/syslog.1", g.between(1<<20, 1<<26))
		b.file(t+g.between(1, 20), p, evFileCreate, "/var/log/syslog", 0)
		sh, t2 := b.spawn(t+g.between(1, 20), p, false, "/usr/bin/dash", "sh", "-c", "/usr/lib/rsyslog/rsyslog-rotate")
		r, t3 := b.spawn(t2+g.between(1, 3), sh, false, "/usr/bin/systemctl", "systemctl", "kill", "-s", "HUP", "rsyslog.service")
		b.end(t3+g.jitter(15), r, 0)
		b.end(t3+g.jitter(20)+15, sh, 0)
		b.end(t3+g.jitter(60)+40, p, 0)
	case 2:
		p, t := b.service(t, "/usr/bin/mandb", "/usr/bin/mandb", "--quiet")
		p.user, p.ruser = &account{"man", "6", "man", "12", "/var/cache/man"}, &account{"man", "6", "man", "12", "/var/cache/man"}
		b.file(t+g.between(100, 900), p, evFileModify, "/var/cache/man/index.db", g.between(1<<20, 1<<22))
		b.end(t+g.jitter(1500), p, 0)
	case 3:
		p, t := b.service(t, "/usr/sbin/fstrim", "/sbin/fstrim", "--listed-in", "/etc/fstab:/proc/self/mountinfo", "--verbose", "--quiet-unsupported")
		b.end(t+g.jitter(800), p, 0)
	case 4:
		p, t := b.service(t, "/usr/bin/fwupdmgr", "/usr/bin/fwupdmgr", "refresh")
		b.connect(t+g.between(50, 400), p, pick(g, []string{"151.101.1.91", "151.101.65.91"}), 443, false, g.jitter(600))
		b.end(t+g.jitter(2000)+1000, p, 0)
	default:
		p, t := b.service(t, "/usr/sbin/e2scrub_all", "/bin/bash", "/usr/sbin/e2scrub_all", "-A", "-r")
		b.end(t+g.jitter(300), p, 0)
	}
}
