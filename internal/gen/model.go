package gen

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// account is a user with its primary group.
type account struct {
	name, id   string
	group, gid string
	home       string
}

var (
	acctRoot     = &account{"root", "0", "root", "0", "/root"}
	acctUbuntu   = &account{"ubuntu", "1000", "ubuntu", "1000", "/home/ubuntu"}
	acctAlice    = &account{"alice", "1001", "alice", "1001", "/home/alice"}
	acctBob      = &account{"bob", "1002", "bob", "1002", "/home/bob"}
	acctDeploy   = &account{"deploy", "1003", "deploy", "1003", "/home/deploy"}
	acctWWW      = &account{"www-data", "33", "www-data", "33", "/var/www"}
	acctPostgres = &account{"postgres", "114", "postgres", "121", "/var/lib/postgresql"}
	acctApt      = &account{"_apt", "105", "nogroup", "65534", "/nonexistent"}
	acctResolve  = &account{"systemd-resolve", "991", "systemd-resolve", "991", "/"}
	acctTimesync = &account{"systemd-timesync", "992", "systemd-timesync", "992", "/"}
	acctSyslog   = &account{"syslog", "104", "syslog", "110", "/home/syslog"}

	interactiveUsers = []*account{acctUbuntu, acctAlice, acctBob, acctDeploy}
)

// exeHash returns a stable stand-in for the SHA-256 of an executable,
// derived from its path.
func exeHash(exe string) string {
	s := sha256.Sum256([]byte("eqlstream-gen:" + exe))
	return hex.EncodeToString(s[:])
}

// proc is one image of a process: fork copies the parent's image under a new
// pid and entity id, exec replaces the image and keeps pid and entity id.
// Procs are immutable once built, because events render them later.
type proc struct {
	pid      int64
	start    int64 // ms
	entityID string
	name     string
	exe      string
	args     []string
	cmdline  string
	cwd      string
	user     *account // effective
	ruser    *account // real
	// egrp is the effective group when it is not the effective user's
	// primary group: a setuid (not setgid) binary such as sudo runs with
	// the caller's group. The real group is ruser's primary group.
	egrp   *account
	tty    int64 // pts number + 1; 0 without a terminal
	sha256 string

	parent   *proc
	session  *proc
	group    *proc
	entry    *proc
	previous *proc // image replaced by the exec that made this one

	entryType  string // for entry leaders: "sshd", "init", "terminal"
	entrySrcIP string
	ancestry   []string

	// JSON cached when the proc is first rendered as a leader or parent;
	// procs are no longer changed by then.
	leaderJSON, entryJSON, parentJSON []byte
}

// egroup returns the account whose group is p's effective group.
func (p *proc) egroup() *account {
	if p.egrp != nil {
		return p.egrp
	}
	return p.user
}

const maxAncestry = 2

// host is one endpoint.
type host struct {
	idx      int
	id       string
	name     string
	role     string
	os       *osProfile
	ip       []string
	mac      string
	agentID  string
	entPfx   [6]byte
	evSalt   uint64
	evCount  uint64
	sequence int64
	nextPID  int64
	bootMS   int64

	systemd, sshd, cron, journald, rsyslog, resolved, timesyncd, endpoint, agent *proc
	daemons                                                                      []*proc // role services that accept or make connections
	sessions                                                                     []*session

	agentJSON, hostJSON, elasticJSON []byte // pre-rendered nested values
}

type session struct {
	shell *proc // login shell: entry, session and group leader
	user  *account
	endAt int64
}

type osProfile struct {
	variant, family, full, version, kernel, python string
	ubuntu                                         bool
}

var osProfiles = []*osProfile{
	{"Ubuntu", "ubuntu", "Ubuntu 22.04.5 LTS", "22.04.5", "5.15.0-131-generic", "python3.10", true},
	{"Ubuntu", "ubuntu", "Ubuntu 24.04.2 LTS", "24.04.2", "6.8.0-57-generic", "python3.12", true},
	{"Debian", "debian", "Debian 12.10", "12.10", "6.1.0-32-cloud-amd64", "python3.11", false},
}

var roles = []string{"web", "db", "app", "build", "bastion", "k8s"}

// entityID derives an Elastic Defend style entity id (base64) from the
// agent, pid and start time; it is unique per host for distinct (pid, start).
func (h *host) entityID(pid, start int64) string {
	var buf [24]byte
	copy(buf[:6], h.entPfx[:])
	binary.BigEndian.PutUint32(buf[6:10], uint32(pid))
	binary.BigEndian.PutUint64(buf[10:18], uint64(start))
	x := mix64(h.evSalt ^ uint64(pid)<<40 ^ uint64(start))
	binary.LittleEndian.PutUint32(buf[18:22], uint32(x))
	binary.LittleEndian.PutUint16(buf[22:24], uint16(x>>32))
	return base64.StdEncoding.EncodeToString(buf[:])
}

// eventID returns a unique event.id for the host's next event.
func (h *host) eventID() string {
	h.evCount++
	var buf [18]byte
	binary.BigEndian.PutUint32(buf[0:4], uint32(h.idx))
	binary.BigEndian.PutUint64(buf[4:12], h.evCount)
	binary.LittleEndian.PutUint32(buf[12:16], uint32(mix64(h.evSalt+h.evCount)))
	binary.LittleEndian.PutUint16(buf[16:18], uint16(h.evSalt))
	return base64.StdEncoding.EncodeToString(buf[:])
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func fileExt(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	return name[i+1:]
}

type evKind uint8

const (
	evFork evKind = iota
	evExec
	evEnd
	evNetAttempt
	evNetAccept
	evNetDisconnect
	evFileCreate
	evFileModify
	evFileDelete
)

func (k evKind) isProcess() bool { return k <= evEnd }
func (k evKind) isNetwork() bool { return k >= evNetAttempt && k <= evNetDisconnect }

// Output styles: how many objects are written with dotted keys.
const (
	styleNested       uint8 = iota
	styleFlat               // every key dotted at top level
	styleTopDotted          // event.* and process.* dotted at top level
	styleInnerDotted        // "process": {"parent.name": ...}
	styleParentDotted       // process nested, process.parent.* and host.* dotted at top level
	numStyles
)

// event is one scheduled event; it is rendered when emitted.
type event struct {
	key   int64 // emission order: ts plus the disorder delay
	ts    int64
	seq   uint64
	h     *host
	p     *proc
	kind  evKind
	style uint8
	udp   bool
	exit  int32

	srcIP, dstIP     string
	srcPort, dstPort int32
	bytesIn          int64
	bytesOut         int64

	path string
	size int64

	inj  *injection
	mark uint8 // 1 + the index of this event in inj.EntityIDs; 0 if unmarked
}

// injection records one injected attack chain or look-alike.
type injection struct {
	Injection
	pending int
}

func (e *event) less(o *event) bool {
	if e.key != o.key {
		return e.key < o.key
	}
	return e.seq < o.seq
}

// otherHashes returns stand-ins for the MD5 and SHA-1 of the executable
// whose SHA-256 stand-in is sha256 (Elastic Defend sends all three).
func (g *Generator) otherHashes(sha256 string) (md5sum, sha1sum string) {
	if h, ok := g.hashCache["md5+sha1:"+sha256]; ok {
		return h[:32], h[32:]
	}
	m := md5.Sum([]byte(sha256))
	s := sha1.Sum([]byte(sha256))
	h := hex.EncodeToString(m[:]) + hex.EncodeToString(s[:])
	g.hashCache["md5+sha1:"+sha256] = h
	return h[:32], h[32:]
}
