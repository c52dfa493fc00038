package gen

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// newHost builds host i with its long-running processes, which were started
// before the stream begins and so have no events of their own.
func (g *Generator) newHost(i int, startMS int64) *host {
	roleIdx := i % len(roles)
	n := i / len(roles)
	h := &host{
		idx:  i,
		role: roles[roleIdx],
		os:   pick(g, osProfiles),
	}
	var id [16]byte
	for j := range id {
		id[j] = byte(g.r.Uint32())
	}
	h.id = hex.EncodeToString(id[:])
	h.name = fmt.Sprintf("%s-%s-%03d", h.role, pick(g, []string{"prod", "prod", "prod", "stg"}), n+1)
	h.agentID = g.uuid()
	for j := range h.entPfx {
		h.entPfx[j] = byte(g.r.Uint32())
	}
	// Agent prefixes keep entity ids unique across hosts.
	h.entPfx[0], h.entPfx[1], h.entPfx[2] = byte(i>>16), byte(i>>8), byte(i)
	h.evSalt = g.r.Uint64()
	a, b2, c := 10+roleIdx, n/250, n%250+4
	h.ip = []string{
		fmt.Sprintf("10.%d.%d.%d", a, b2, c),
		netip.MustParseAddr(fmt.Sprintf("2600:1f18:%x:%x::%x", 0x4a00+roleIdx, b2, c)).String(),
		fmt.Sprintf("fe80::4001:aff:fe%02x:%x", a, c),
	}
	h.mac = fmt.Sprintf("42-01-0a-%02x-%02x-%02x", a, b2, c)
	h.bootMS = startMS - g.between(3600_000, 40*86400_000)
	h.nextPID = 4000 + int64(g.intn(60000))

	boot := h.bootMS
	h.systemd = &proc{pid: 1, start: boot, name: "systemd", exe: "/usr/lib/systemd/systemd", args: []string{"/sbin/init"}, cwd: "/", user: acctRoot, ruser: acctRoot}
	h.systemd.entityID = h.entityID(1, boot)
	h.systemd.cmdline = "/sbin/init"
	h.systemd.sha256 = g.hashFor(h.systemd.exe)
	daemonize(h.systemd, "init")

	d := func(exe string, user *account, args ...string) *proc {
		boot += g.between(50, 3000)
		return g.daemonProc(h, h.systemd, boot, exe, user, args)
	}
	h.journald = d("/usr/lib/systemd/systemd-journald", acctRoot, "/lib/systemd/systemd-journald")
	h.resolved = d("/usr/lib/systemd/systemd-resolved", acctResolve, "/lib/systemd/systemd-resolved")
	h.timesyncd = d("/usr/lib/systemd/systemd-timesyncd", acctTimesync, "/lib/systemd/systemd-timesyncd")
	h.rsyslog = d("/usr/sbin/rsyslogd", acctSyslog, "/usr/sbin/rsyslogd", "-n", "-iNONE")
	h.cron = d("/usr/sbin/cron", acctRoot, "/usr/sbin/cron", "-f", "-P")
	h.sshd = d("/usr/sbin/sshd", acctRoot, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
	h.agent = d("/opt/Elastic/Agent/elastic-agent", acctRoot, "/opt/Elastic/Agent/elastic-agent")
	h.endpoint = d("/opt/Elastic/Endpoint/elastic-endpoint", acctRoot, "/opt/Elastic/Endpoint/elastic-endpoint", "run")
	switch h.role {
	case "web":
		m := d("/usr/sbin/nginx", acctRoot, "nginx: master process /usr/sbin/nginx", "-g", "daemon on; master_process on;")
		boot += 5
		w := g.childProc(h, m, boot, acctWWW, "nginx: worker process")
		h.daemons = append(h.daemons, w)
	case "db":
		h.daemons = append(h.daemons, d("/usr/lib/postgresql/16/bin/postgres", acctPostgres, "/usr/lib/postgresql/16/bin/postgres", "-D", "/var/lib/postgresql/16/main", "-c", "config_file=/etc/postgresql/16/main/postgresql.conf"))
	case "app":
		h.daemons = append(h.daemons, d("/usr/bin/"+h.os.python, acctDeploy, "/srv/app/venv/bin/python3", "/srv/app/venv/bin/gunicorn", "--workers", "4", "--bind", "0.0.0.0:8000", "app.wsgi:application"))
	case "build":
		h.daemons = append(h.daemons, d("/usr/bin/dockerd", acctRoot, "/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"))
	case "k8s":
		h.daemons = append(h.daemons, d("/usr/bin/kubelet", acctRoot, "/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml", "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"))
	}
	g.prerender(h)
	return h
}

// daemonProc builds a service started by parent (systemd) without events.
func (g *Generator) daemonProc(h *host, parent *proc, start int64, exe string, user *account, args []string) *proc {
	pid := h.nextPID
	h.nextPID += 1 + int64(g.intn(40))
	p := &proc{
		pid: pid, start: start, entityID: h.entityID(pid, start),
		name: baseName(exe), exe: exe, args: args, cmdline: strings.Join(args, " "), cwd: "/",
		user: user, ruser: user, sha256: g.hashFor(exe), parent: parent, ancestry: ancestry(parent),
	}
	daemonize(p, "init")
	return p
}

// childProc builds a forked worker of parent without events.
func (g *Generator) childProc(h *host, parent *proc, start int64, user *account, args ...string) *proc {
	pid := h.nextPID
	h.nextPID += 1 + int64(g.intn(5))
	p := &proc{
		pid: pid, start: start, entityID: h.entityID(pid, start),
		name: parent.name, exe: parent.exe, args: args, cmdline: strings.Join(args, " "), cwd: parent.cwd,
		user: user, ruser: user, sha256: parent.sha256, parent: parent,
		session: parent.session, group: parent.group, entry: parent.entry, ancestry: ancestry(parent),
	}
	return p
}

func (g *Generator) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// srcIPFor returns the host address used to reach dst.
func (h *host) srcIPFor(dst string) string {
	switch {
	case dst == "::1":
		return "::1"
	case strings.HasPrefix(dst, "127."):
		return "127.0.0.1"
	case strings.HasPrefix(dst, "fe80:"):
		return h.ip[2]
	case strings.IndexByte(dst, ':') >= 0:
		return h.ip[1]
	default:
		return h.ip[0]
	}
}

// liveSession returns a session of user (any user if nil) that stays open
// past t, or nil.
func (h *host) liveSession(g *Generator, t int64, root bool) *session {
	live := h.sessions[:0]
	for _, s := range h.sessions {
		if s.endAt > t {
			live = append(live, s)
		}
	}
	clear(h.sessions[len(live):])
	h.sessions = live
	var cands [8]*session
	n := 0
	for _, s := range live {
		if s.endAt > t+120_000 && (s.user == acctRoot) == root && n < len(cands) {
			cands[n] = s
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return cands[g.intn(n)]
}
