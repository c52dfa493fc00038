package gen

import "strings"

const (
	agentVersion = "8.18.2"
	ecsVersion   = "8.11.0"
)

var (
	catProcess  = []string{"process"}
	catNetwork  = []string{"network"}
	catFile     = []string{"file"}
	typeStart   = []string{"start"}
	typeEnd     = []string{"end"}
	typeCreate  = []string{"creation"}
	typeChange  = []string{"change"}
	typeDeleted = []string{"deletion"}
)

type kindInfo struct {
	action, dataset, message string
	category, typ            []string
}

var kindInfos = [...]kindInfo{
	evFork:          {"fork", "endpoint.events.process", "Endpoint process event", catProcess, typeStart},
	evExec:          {"exec", "endpoint.events.process", "Endpoint process event", catProcess, typeStart},
	evEnd:           {"end", "endpoint.events.process", "Endpoint process event", catProcess, typeEnd},
	evNetAttempt:    {"connection_attempted", "endpoint.events.network", "Endpoint network event", catNetwork, typeStart},
	evNetAccept:     {"connection_accepted", "endpoint.events.network", "Endpoint network event", catNetwork, typeStart},
	evNetDisconnect: {"disconnect_received", "endpoint.events.network", "Endpoint network event", catNetwork, typeEnd},
	evFileCreate:    {"creation", "endpoint.events.file", "Endpoint file event", catFile, typeCreate},
	evFileModify:    {"modification", "endpoint.events.file", "Endpoint file event", catFile, typeChange},
	evFileDelete:    {"deletion", "endpoint.events.file", "Endpoint file event", catFile, typeDeleted},
}

// prerender caches the nested JSON of a host's constant objects.
func (g *Generator) prerender(h *host) {
	var w jsonWriter
	w.reset(nil, false)
	agentFields(&w, h)
	h.agentJSON = w.finish()
	w.reset(nil, false)
	hostFields(&w, h)
	h.hostJSON = w.finish()
	w.reset(nil, false)
	w.open("agent", false)
	w.str("id", h.agentID)
	w.close()
	h.elasticJSON = w.finish()
}

func agentFields(w *jsonWriter, h *host) {
	w.str("id", h.agentID)
	w.str("type", "endpoint")
	w.str("version", agentVersion)
}

func hostFields(w *jsonWriter, h *host) {
	w.str("architecture", "x86_64")
	w.str("hostname", h.name)
	w.str("id", h.id)
	w.strs("ip", h.ip)
	w.str1("mac", h.mac)
	w.str("name", h.name)
	w.open("os", false)
	w.open("Ext", false)
	w.str("variant", h.os.variant)
	w.close()
	w.str("family", h.os.family)
	w.str("full", h.os.full)
	w.str("kernel", h.os.kernel)
	w.str("name", "Linux")
	w.str("platform", h.os.family)
	w.str("type", "linux")
	w.str("version", h.os.version)
	w.close()
}

// render appends the JSON of e to dst.
func (g *Generator) render(dst []byte, e *event) []byte {
	h := e.h
	w := &g.w
	style := e.style
	w.reset(dst, style == styleFlat)
	ki := &kindInfos[e.kind]
	h.sequence++

	w.time("@timestamp", e.ts, &g.dc)
	if w.flat {
		w.open("agent", true)
		agentFields(w, h)
		w.close()
	} else {
		w.raw("agent", h.agentJSON)
	}
	w.open("data_stream", false)
	w.str("dataset", ki.dataset)
	w.str("namespace", "default")
	w.str("type", "logs")
	w.close()
	if e.kind.isNetwork() {
		g.writeEndpoint(w, "destination", e.dstIP, e.dstPort, e.bytesIn, e.kind == evNetDisconnect)
	}
	w.open("ecs", false)
	w.str("version", ecsVersion)
	w.close()
	if w.flat {
		w.open("elastic", true)
		w.open("agent", true)
		w.str("id", h.agentID)
		w.close()
		w.close()
	} else {
		w.raw("elastic", h.elasticJSON)
	}

	w.open("event", style == styleTopDotted)
	w.str("action", ki.action)
	w.strs("category", ki.category)
	w.time("created", e.ts, &g.dc)
	w.str("dataset", ki.dataset)
	w.str("id", h.eventID())
	w.str("kind", "event")
	w.str("module", "endpoint")
	w.int("sequence", h.sequence)
	w.strs("type", ki.typ)
	w.close()

	p := e.p
	if e.path != "" {
		w.open("file", false)
		name := baseName(e.path)
		if ext := fileExt(name); ext != "" {
			w.str("extension", ext)
		}
		w.str("name", name)
		w.str("path", e.path)
		if e.kind != evFileDelete {
			w.int("size", e.size)
		}
		w.close()
	}
	eg := p.egroup()
	writeAccount(w, "group", eg.group, eg.gid, p.ruser.group, p.ruser.gid)
	if w.flat || style == styleParentDotted {
		w.open("host", true)
		hostFields(w, h)
		w.close()
	} else {
		w.raw("host", h.hostJSON)
	}
	w.str("message", ki.message)
	if e.kind.isNetwork() {
		w.open("network", false)
		if e.kind == evNetAccept || (e.kind == evNetDisconnect && isLocal(h, e.dstIP)) {
			w.str("direction", "ingress")
		} else {
			w.str("direction", "egress")
		}
		if e.udp {
			w.str("transport", "udp")
		} else {
			w.str("transport", "tcp")
		}
		if strings.IndexByte(e.dstIP, ':') >= 0 {
			w.str("type", "ipv6")
		} else {
			w.str("type", "ipv4")
		}
		w.close()
	}
	if e.kind.isProcess() {
		g.writeProcess(w, e, style)
	} else {
		g.writeProcessRef(w, p, style)
	}
	if e.kind.isNetwork() {
		g.writeEndpoint(w, "source", e.srcIP, e.srcPort, e.bytesOut, e.kind == evNetDisconnect)
	}
	writeAccount(w, "user", p.user.name, p.user.id, p.ruser.name, p.ruser.id)
	return w.finish()
}

// isLocal reports whether ip is one of the host's addresses.
func isLocal(h *host, ip string) bool {
	for _, a := range h.ip {
		if a == ip {
			return true
		}
	}
	return ip == "127.0.0.1" || ip == "::1"
}

func (g *Generator) writeEndpoint(w *jsonWriter, k, ip string, port int32, bytes int64, withBytes bool) {
	w.open(k, false)
	w.str("address", ip)
	if withBytes {
		w.int("bytes", bytes)
	}
	w.str("ip", ip)
	w.int("port", int64(port))
	w.close()
}

// writeAccount writes the top-level user or group object.
func writeAccount(w *jsonWriter, k, name, id, realName, realID string) {
	w.open(k, false)
	w.open("Ext", false)
	w.open("real", false)
	w.str("id", realID)
	w.str("name", realName)
	w.close()
	w.close()
	w.str("id", id)
	w.str("name", name)
	w.close()
}

func writeIDName(w *jsonWriter, k, id, name string) {
	w.open(k, false)
	w.str("id", id)
	w.str("name", name)
	w.close()
}

// writeProcess writes the full process object of a process event: the
// proc's own fields, then those that depend on the event (end, exit_code,
// previous).
func (g *Generator) writeProcess(w *jsonWriter, e *event, style uint8) {
	p := e.p
	w.open("process", style == styleTopDotted)
	g.processFields(w, p, style)
	switch e.kind {
	case evEnd:
		w.time("end", e.ts, &g.dc)
		w.int("exit_code", int64(e.exit))
	case evExec:
		if p.previous != nil {
			w.open("previous", style == styleInnerDotted)
			w.strs("args", p.previous.args)
			w.int("args_count", int64(len(p.previous.args)))
			w.str("executable", p.previous.exe)
			w.close()
		}
	}
	w.close()
	if p.parent != nil && style == styleParentDotted {
		w.open("process", true)
		g.writeParent(w, p.parent, true)
		w.close()
	}
}

func (g *Generator) processFields(w *jsonWriter, p *proc, style uint8) {
	inner := style == styleInnerDotted
	w.open("Ext", inner)
	w.strs("ancestry", p.ancestry)
	w.close()
	w.strs("args", p.args)
	w.int("args_count", int64(len(p.args)))
	w.str("command_line", p.cmdline)
	w.str("entity_id", p.entityID)
	g.writeLeader(w, "entry_leader", p.entry, p, inner, true)
	w.str("executable", p.exe)
	writeIdentity(w, p, false)
	g.writeLeader(w, "group_leader", p.group, p, inner, false)
	w.open("hash", inner)
	md5, sha1 := g.otherHashes(p.sha256)
	w.str("md5", md5)
	w.str("sha1", sha1)
	w.str("sha256", p.sha256)
	w.close()
	w.bool("interactive", p.tty > 0)
	w.str("name", p.name)
	if p.parent != nil && style != styleParentDotted {
		g.writeParent(w, p.parent, inner)
	}
	w.int("pid", p.pid)
	writeIdentity(w, p, true)
	g.writeLeader(w, "session_leader", p.session, p, inner, false)
	w.time("start", p.start, &g.dc)
	writeTTY(w, p, inner)
	writeIDName(w, "user", p.user.id, p.user.name)
	w.str("working_directory", p.cwd)
}

// writeTTY writes the controlling terminal, if any.
func writeTTY(w *jsonWriter, p *proc, flat bool) {
	if p.tty == 0 {
		return
	}
	w.open("tty", flat)
	w.open("char_device", false)
	w.int("major", 136)
	w.int("minor", p.tty-1)
	w.close()
	w.close()
}

// writeIdentity writes the effective and real group and the real user of
// p, as Elastic Defend does for the parent and the leaders (the effective
// user follows, in key order).
func writeIdentity(w *jsonWriter, p *proc, realOnly bool) {
	if !realOnly {
		writeIDName(w, "group", p.egroup().gid, p.egroup().group)
		return
	}
	writeIDName(w, "real_group", p.ruser.gid, p.ruser.group)
	writeIDName(w, "real_user", p.ruser.id, p.ruser.name)
}

func (g *Generator) writeLeader(w *jsonWriter, k string, l, self *proc, flat, entry bool) {
	if l == nil {
		return
	}
	same := l.entityID == self.entityID
	if !flat && !w.flat {
		// Leaders recur in many events: their JSON is cached, all but
		// same_as_process, which depends on the event's process.
		c := &l.leaderJSON
		if entry {
			c = &l.entryJSON
		}
		if *c == nil {
			var cw jsonWriter
			cw.reset(make([]byte, 0, 512), false)
			g.leaderFields(&cw, l, entry)
			*c = cw.b
		}
		w.key(k)
		w.b = append(w.b, *c...)
		if same {
			w.b = append(w.b, `,"same_as_process":true}`...)
		} else {
			w.b = append(w.b, `,"same_as_process":false}`...)
		}
		return
	}
	w.open(k, flat)
	g.leaderFields(w, l, entry)
	w.bool("same_as_process", same)
	w.close()
}

func (g *Generator) leaderFields(w *jsonWriter, l *proc, entry bool) {
	w.strs("args", l.args)
	w.int("args_count", int64(len(l.args)))
	w.str("entity_id", l.entityID)
	if entry {
		w.open("entry_meta", false)
		if l.entrySrcIP != "" {
			w.open("source", false)
			w.str("ip", l.entrySrcIP)
			w.close()
		}
		if l.entryType != "" {
			w.str("type", l.entryType)
		} else {
			w.str("type", "unknown")
		}
		w.close()
	}
	w.str("executable", l.exe)
	writeIdentity(w, l, false)
	w.bool("interactive", l.tty > 0)
	w.str("name", l.name)
	if entry && l.parent != nil {
		w.open("parent", false)
		w.str("entity_id", l.parent.entityID)
		w.int("pid", l.parent.pid)
		w.time("start", l.parent.start, &g.dc)
		w.close()
	}
	w.int("pid", l.pid)
	writeIdentity(w, l, true)
	w.time("start", l.start, &g.dc)
	writeTTY(w, l, false)
	writeIDName(w, "user", l.user.id, l.user.name)
	w.str("working_directory", l.cwd)
}

func (g *Generator) writeParent(w *jsonWriter, p *proc, flat bool) {
	if !flat && !w.flat {
		if p.parentJSON == nil {
			var cw jsonWriter
			cw.reset(make([]byte, 0, 512), false)
			g.parentFields(&cw, p)
			p.parentJSON = cw.finish()
		}
		w.raw("parent", p.parentJSON)
		return
	}
	w.open("parent", flat)
	g.parentFields(w, p)
	w.close()
}

func (g *Generator) parentFields(w *jsonWriter, p *proc) {
	w.strs("args", p.args)
	w.int("args_count", int64(len(p.args)))
	w.str("command_line", p.cmdline)
	w.str("entity_id", p.entityID)
	w.str("executable", p.exe)
	writeIdentity(w, p, false)
	w.bool("interactive", p.tty > 0)
	w.str("name", p.name)
	w.int("pid", p.pid)
	writeIdentity(w, p, true)
	w.time("start", p.start, &g.dc)
	writeTTY(w, p, false)
	writeIDName(w, "user", p.user.id, p.user.name)
	w.str("working_directory", p.cwd)
}

// writeProcessRef writes the short process object of network and file
// events.
func (g *Generator) writeProcessRef(w *jsonWriter, p *proc, style uint8) {
	w.open("process", style == styleTopDotted)
	g.processRefFields(w, p, style)
	w.close()
	if p.parent != nil && style == styleParentDotted {
		w.open("process", true)
		w.open("parent", true)
		w.str("entity_id", p.parent.entityID)
		w.close()
		w.close()
	}
}

func (g *Generator) processRefFields(w *jsonWriter, p *proc, style uint8) {
	inner := style == styleInnerDotted
	w.open("Ext", inner)
	w.strs("ancestry", p.ancestry)
	w.close()
	w.str("command_line", p.cmdline)
	w.str("entity_id", p.entityID)
	if p.entry != nil {
		w.open("entry_leader", inner)
		w.str("entity_id", p.entry.entityID)
		if p.entry.parent != nil {
			w.open("parent", false)
			w.str("entity_id", p.entry.parent.entityID)
			w.close()
		}
		w.close()
	}
	w.str("executable", p.exe)
	if p.group != nil {
		w.open("group_leader", inner)
		w.str("entity_id", p.group.entityID)
		w.close()
	}
	w.str("name", p.name)
	if p.parent != nil && style != styleParentDotted {
		w.open("parent", inner)
		w.str("entity_id", p.parent.entityID)
		w.close()
	}
	w.int("pid", p.pid)
	if p.session != nil {
		w.open("session_leader", inner)
		w.str("entity_id", p.session.entityID)
		w.close()
	}
}
