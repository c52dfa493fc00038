package gen

import "strings"

// builder collects the events of one chain slot before they are committed.
type builder struct {
	g           *Generator
	h           *host
	t0          int64
	evs         []*event
	inj         *injection
	newSessions []*session
}

func (g *Generator) newBuilder(h *host, t0 int64) *builder {
	b := &builder{g: g, h: h, t0: t0}
	if g.scratch != nil {
		b.evs = g.scratch[:0]
		g.scratch = nil
	}
	return b
}

func (g *Generator) releaseScratch(b *builder) {
	clear(b.evs)
	g.scratch = b.evs[:0]
}

// inject marks the builder's events as one injected chain or look-alike.
func (b *builder) inject(kind, variant string, lookalike bool) *injection {
	b.inj = &injection{Injection: Injection{Kind: kind, Variant: variant, Lookalike: lookalike}}
	return b.inj
}

// mark records e as a (near) matching event of the injection.
func (b *builder) mark(e *event) {
	b.inj.EntityIDs = append(b.inj.EntityIDs, e.p.entityID)
	b.inj.Lines = append(b.inj.Lines, -1) // set when e is emitted
	b.inj.Time = msTime(e.ts)
	e.mark = uint8(len(b.inj.EntityIDs))
}

func (b *builder) ev(t int64, kind evKind, p *proc) *event {
	e := b.g.alloc()
	e.ts, e.h, e.p, e.kind = t, b.h, p, kind
	b.evs = append(b.evs, e)
	return e
}

func (b *builder) newPID() int64 {
	h := b.h
	h.nextPID += 1 + int64(b.g.intn(9))
	if h.nextPID >= 4194304 {
		h.nextPID = 3000 + int64(b.g.intn(1000))
	}
	return h.nextPID
}

func ancestry(parent *proc) []string {
	n := min(len(parent.ancestry), maxAncestry-1)
	a := make([]string, 0, n+1)
	a = append(a, parent.entityID)
	return append(a, parent.ancestry[:n]...)
}

// fork emits a fork event: a copy of parent's image with a new pid.
func (b *builder) fork(t int64, parent *proc, newGroup bool) *proc {
	pid := b.newPID()
	c := &proc{
		pid: pid, start: t, entityID: b.h.entityID(pid, t),
		name: parent.name, exe: parent.exe, args: parent.args, cmdline: parent.cmdline, cwd: parent.cwd,
		user: parent.user, ruser: parent.ruser, egrp: parent.egrp, tty: parent.tty, sha256: parent.sha256,
		parent: parent, session: parent.session, group: parent.group, entry: parent.entry,
		ancestry: ancestry(parent),
	}
	if newGroup {
		c.group = c
	}
	b.ev(t, evFork, c)
	return c
}

// exec emits an exec event replacing p's image.
func (b *builder) exec(t int64, p *proc, exe string, args []string) *proc {
	n := new(proc)
	*n = *p
	n.exe, n.name, n.args = exe, baseName(exe), args
	n.cmdline = strings.Join(args, " ")
	n.sha256 = b.g.hashFor(exe)
	n.previous = p
	n.leaderJSON, n.entryJSON, n.parentJSON = nil, nil, nil
	if p.group == p {
		n.group = n
	}
	if p.session == p {
		n.session = n
	}
	if p.entry == p {
		n.entry = n
	}
	b.ev(t, evExec, n)
	return n
}

// spawn forks parent at t and execs exe a few milliseconds later; it returns
// the new image and the exec time.
func (b *builder) spawn(t int64, parent *proc, newGroup bool, exe string, args ...string) (*proc, int64) {
	c := b.fork(t, parent, newGroup)
	t += b.g.between(1, 3)
	return b.exec(t, c, exe, args), t
}

// daemonize makes p (fresh from fork) a session, group and entry leader, as
// systemd does for services.
func daemonize(p *proc, entryType string) {
	p.session, p.group, p.entry = p, p, p
	p.entryType = entryType
}

func (b *builder) end(t int64, p *proc, code int32) *event {
	e := b.ev(t, evEnd, p)
	e.exit = code
	return e
}

// connect emits connection_attempted and, if dur >= 0, disconnect_received
// dur ms later. It returns the attempt event.
func (b *builder) connect(t int64, p *proc, dstIP string, dstPort int32, udp bool, dur int64) *event {
	e := b.ev(t, evNetAttempt, p)
	e.srcIP, e.srcPort = b.h.srcIPFor(dstIP), int32(b.g.between(32768, 60999))
	e.dstIP, e.dstPort, e.udp = dstIP, dstPort, udp
	if dur >= 0 {
		d := b.ev(t+dur, evNetDisconnect, p)
		d.srcIP, d.srcPort, d.dstIP, d.dstPort, d.udp = e.srcIP, e.srcPort, e.dstIP, e.dstPort, udp
		d.bytesOut = b.g.between(200, 4000)
		d.bytesIn = b.g.between(300, 200000)
	}
	return e
}

// accept emits connection_accepted from a remote peer and, if dur >= 0,
// disconnect_received dur ms later.
func (b *builder) accept(t int64, p *proc, srcIP string, localPort int32, dur int64) *event {
	e := b.ev(t, evNetAccept, p)
	e.srcIP, e.srcPort = srcIP, int32(b.g.between(32768, 60999))
	e.dstIP, e.dstPort = b.h.srcIPFor(srcIP), localPort
	if dur >= 0 {
		d := b.ev(t+dur, evNetDisconnect, p)
		d.srcIP, d.srcPort, d.dstIP, d.dstPort = e.srcIP, e.srcPort, e.dstIP, e.dstPort
		d.bytesOut = b.g.between(200, 60000)
		d.bytesIn = b.g.between(100, 4000)
	}
	return e
}

func (b *builder) file(t int64, p *proc, kind evKind, path string, size int64) *event {
	e := b.ev(t, kind, p)
	e.path, e.size = path, size
	return e
}
