package gen

import "fmt"

// Look-alikes: each hits one documented exclusion of a rule's query, or
// misses the rule narrowly. None is meant to raise an alert.

type lookalike struct {
	kind, variant string
	build         func(g *Generator, b *builder)
	needsTwoHosts bool
}

var lookalikes = []lookalike{
	// Suspicious APT Package Manager Execution: stage 2 exclusions.
	{KindAPTShell, "hook_cnf_update_db", laHook((*builder).hookCNF, 1), false},
	{KindAPTShell, "hook_update_motd", laHook((*builder).hookMotd, 1), false},
	{KindAPTShell, "hook_needrestart", laHook((*builder).hookNeedrestart, 1), false},
	{KindAPTShell, "hook_dpkg_preconfigure", laHook((*builder).hookPreconfigure, 1), false},
	{KindAPTShell, "hook_apt_listchanges", laHook((*builder).hookListchanges, 1), false},
	{KindAPTShell, "hook_if_x_parent_cmdline", (*Generator).laIfXHook, false},
	{KindAPTShell, "hook_indextargets", (*Generator).laIndextargets, false},
	{KindAPTShell, "hook_pve_apt_hook", (*Generator).laPVEHook, false},
	{KindAPTShell, "buildah_container", (*Generator).laBuildah, false},
	{KindAPTShell, "child_after_maxspan", (*Generator).laShellLate, false},
	{KindAPTShell, "parent_apt_get", (*Generator).laAptGet, false},
	// Suspicious APT Package Manager Network Connection.
	{KindAPTNetcon, "apt_listbugs", (*Generator).laListbugs, false},
	{KindAPTNetcon, "apt_listbugs_executable", (*Generator).laListbugsExe, false},
	{KindAPTNetcon, "nonpublic_ip", (*Generator).laNonPublic, false},
	{KindAPTNetcon, "after_maxspan", (*Generator).laNetLate, false},
	{KindAPTNetcon, "grandchild_connection", (*Generator).laGrandchild, false},
	{KindAPTNetcon, "apt_method_connection", (*Generator).laAptMethod, false},
	{KindAPTNetcon, "other_host", (*Generator).laOtherHost, true},
	{KindAPTNetcon, "connection_accepted", (*Generator).laAccepted, false},
	// Unusual DPKG Execution.
	{KindDPKGUnusual, "parent_dpkg", (*Generator).laDpkgParent, false},
	{KindDPKGUnusual, "parent_dpkg_reconfigure", (*Generator).laDpkgReconfigure, false},
	{KindDPKGUnusual, "parent_frontend", (*Generator).laDpkgFrontend, false},
	{KindDPKGUnusual, "session_leader_dpkg", (*Generator).laDpkgSessionLeader, false},
	{KindDPKGUnusual, "group_leader_dpkg", (*Generator).laDpkgGroupLeader, false},
	{KindDPKGUnusual, "parent_unattended_upgrade", (*Generator).laDpkgUnattended, false},
	{KindDPKGUnusual, "leaders_missing", (*Generator).laDpkgNoLeaders, false},
	{KindDPKGUnusual, "fork_not_exec", (*Generator).laDpkgFork, false},
	{KindDPKGUnusual, "outside_info_dir", (*Generator).laDpkgOutside, false},
	// Executable Bit Set for Potential Persistence Script.
	{KindChmodPersistence, "parent_dpkg_script", (*Generator).laChmodDpkg, false},
	{KindChmodPersistence, "motd_dir_cmdline", (*Generator).laChmodMotdDir, false},
	{KindChmodPersistence, "non_exec_mode", laChmod([]string{"644", "600", "640", "664", "0644", "go-w"}, true), false},
	{KindChmodPersistence, "remove_exec", (*Generator).laChmodMinusX, false},
	{KindChmodPersistence, "other_path", (*Generator).laChmodOtherPath, false},
	{KindChmodPersistence, "symbolic_who_plus_x", laChmod([]string{"u+x", "a+x", "ug+x", "=rwx"}, true), false},
	{KindChmodPersistence, "leading_zero_mode", laChmod([]string{"0755", "0700", "0775"}, true), false},
	{KindChmodPersistence, "install_no_exec", (*Generator).laInstallNoExec, false},
	{KindChmodPersistence, "install_attached_mode", (*Generator).laInstallAttached, false},
}

// LookalikeVariants lists "kind/variant" for every look-alike, in a stable
// order.
func LookalikeVariants() []string {
	out := make([]string, len(lookalikes))
	for i, l := range lookalikes {
		out[i] = l.kind + "/" + l.variant
	}
	return out
}

func (g *Generator) buildLookalike(b *builder) {
	for {
		l := lookalikes[g.intn(len(lookalikes))]
		if l.needsTwoHosts && len(g.hosts) < 2 {
			continue
		}
		b.inject(l.kind, l.variant, true)
		l.build(g, b)
		return
	}
}

// laHook runs apt with one benign hook; the hook shell and its children
// are stage candidates that the rule excludes.
func laHook(hook func(*builder, int64, *proc) int64, n int) func(*Generator, *builder) {
	return func(g *Generator, b *builder) {
		apt, sudo, t := b.startApt(b.t0, "apt", "upgrade", "-y")
		t = b.aptFetch(t+g.between(5, 40), apt, n)
		i := len(b.evs)
		t = hook(b, t, apt)
		for _, e := range b.evs[i:] {
			if e.kind == evExec {
				b.mark(e)
			}
		}
		b.finishApt(t, apt, sudo)
	}
}

func (g *Generator) laIfXHook(b *builder) {
	apt, sudo, t := b.startApt(b.t0, "apt", "install", "-y", "etckeeper")
	t = b.aptFetch(t+g.between(5, 40), apt, 1)
	sh, t := b.aptHook(t, apt, "if [ -x /usr/bin/etckeeper ]; then etckeeper post-install; fi")
	b.mark(b.last())
	c, t := b.spawn(t+g.between(1, 4), sh, false, "/usr/bin/dash", "/bin/sh", "/usr/bin/etckeeper", "post-install")
	b.mark(b.last())
	_, t = b.hookChild(t+g.between(2, 20), c, 200, "/usr/bin/git", "git", "add", "-A")
	b.end(t, c, 0)
	b.end(t+g.between(1, 5), sh, 0)
	b.finishApt(t+10, apt, sudo)
}

func (g *Generator) laIndextargets(b *builder) {
	apt, sudo, t := b.startApt(b.t0, "apt", "update")
	t = b.aptFetch(t+g.between(5, 40), apt, 2)
	sh, t := b.aptHook(t, apt, "if /usr/bin/test -x /usr/lib/apt/apt-helper; then sh -c \"apt-get indextargets -o Dir::State::lists=/var/lib/apt/lists/ --format='$(FILENAME)' 'Created-By: Packages'\"; fi")
	b.mark(b.last())
	c, t := b.spawn(t+g.between(1, 4), sh, false, "/usr/bin/dash", "sh", "-c", "apt-get indextargets -o Dir::State::lists=/var/lib/apt/lists/ --format='$(FILENAME)' 'Created-By: Packages'")
	b.mark(b.last())
	_, t = b.hookChild(t+g.between(1, 4), c, 60, "/usr/bin/apt-get", "apt-get", "indextargets", "-o", "Dir::State::lists=/var/lib/apt/lists/", "--format=$(FILENAME)", "Created-By: Packages")
	b.end(t, c, 0)
	b.end(t+g.between(1, 5), sh, 0)
	b.finishApt(t+10, apt, sudo)
}

func (g *Generator) laPVEHook(b *builder) {
	apt, sudo, t := b.startApt(b.t0, "apt", "upgrade", "-y")
	t = b.aptFetch(t+g.between(5, 40), apt, 1)
	sh, t := b.aptHook(t, apt, "/usr/share/proxmox-ve/pve-apt-hook")
	b.mark(b.last())
	_, t = b.hookChild(t+g.between(1, 4), sh, 150, "/usr/bin/perl", "/usr/bin/perl", "/usr/share/proxmox-ve/pve-apt-hook")
	b.mark(b.evs[len(b.evs)-2])
	b.end(t, sh, 0)
	b.finishApt(t+10, apt, sudo)
}

func (g *Generator) laBuildah(b *builder) {
	root := fmt.Sprintf("/var/tmp/buildah%09d/mnt/rootfs", g.intn(1_000_000_000))
	s, t := b.session(b.t0, true)
	bu, t := b.spawn(t, s.shell, true, "/usr/bin/buildah", "buildah", "run", "working-container", "--", "apt", "install", "-y", "curl")
	apt, t := b.spawn(t+g.between(50, 400), bu, false, root+"/usr/bin/apt", "apt", "install", "-y", "curl")
	sh, t := b.spawn(t+g.between(100, 2000), apt, false, root+"/usr/bin/dash", "sh", "-c", "/bin/bash /usr/local/sbin/apt-clean-cache.sh")
	b.mark(b.last())
	_, t = b.hookChild(t+g.between(1, 4), sh, 100, root+"/usr/bin/bash", "/bin/bash", "/usr/local/sbin/apt-clean-cache.sh")
	b.mark(b.evs[len(b.evs)-2])
	b.end(t, sh, 0)
	b.end(t+g.between(50, 500), apt, 0)
	b.end(t+g.between(600, 900), bu, 0)
}

func (g *Generator) laShellLate(b *builder) {
	apt, sudo, t := b.startApt(b.t0, "apt", "upgrade", "-y")
	t = b.aptFetch(t+g.between(5, 40), apt, 1)
	sh, t := b.aptHook(t, apt, "sleep 6; /bin/bash /usr/local/sbin/apt-post.sh")
	b.mark(b.last())
	shExec := t
	_, _ = b.hookChild(t+g.between(1, 3), sh, 6000, "/usr/bin/sleep", "sleep", "6")
	late := shExec + 5001
	if g.chance(0.7) {
		late = shExec + g.between(5002, 9000)
	}
	fk := b.fork(late-g.between(1, 3), sh, false)
	c := b.exec(late, fk, "/usr/bin/bash", []string{"/bin/bash", "/usr/local/sbin/apt-post.sh"})
	b.mark(b.last())
	end := late + g.jitter(200)
	b.end(end, c, 0)
	b.end(end+g.between(1, 5), sh, 0)
	b.finishApt(end+10, apt, sudo)
}

func (g *Generator) laAptGet(b *builder) {
	s, t := b.session(b.t0, true)
	ag, t := b.spawn(t, s.shell, true, "/usr/bin/apt-get", "apt-get", "install", "-y", "jq")
	t = b.aptFetch(t+g.between(5, 40), ag, 1)
	sh, t := b.aptHook(t, ag, "/bin/bash /usr/local/sbin/apt-post.sh")
	b.mark(b.last())
	_, t = b.hookChild(t+g.between(1, 4), sh, 300, "/usr/bin/bash", "/bin/bash", "/usr/local/sbin/apt-post.sh")
	b.mark(b.evs[len(b.evs)-2])
	b.end(t, sh, 0)
	b.end(t+g.between(10, 100), ag, 0)
}

// Network connection look-alikes.

const ipBugsDebian = "209.87.16.39"

// netHook runs apt with hook line and returns the hook shell and its exec time.
func (b *builder) netHook(line string) (apt, sudo, sh *proc, t int64) {
	g := b.g
	apt, sudo, t = b.startApt(b.t0, "apt", "install", "-y", "nginx")
	t = b.aptFetch(t+g.between(5, 40), apt, 1)
	sh, t = b.aptHook(t, apt, line)
	b.mark(b.last())
	return apt, sudo, sh, t
}

// hookConnect runs exe as a child of sh that connects to ip:port at connT.
func (b *builder) hookConnect(sh *proc, connT int64, ip string, port int32, exe string, args ...string) int64 {
	g := b.g
	c, _ := b.spawn(connT-g.between(6, 30), sh, false, exe, args...)
	b.connect(connT, c, ip, port, false, g.jitter(300))
	b.mark(b.evs[len(b.evs)-2])
	end := connT + g.jitter(300) + 900
	b.end(end, c, 0)
	return end
}

func (g *Generator) laListbugs(b *builder) {
	apt, sudo, sh, t := b.netHook("/usr/bin/apt-listbugs apt")
	end := b.hookConnect(sh, t+g.between(100, 4000), ipBugsDebian, 443, "/usr/bin/apt-listbugs", "/usr/bin/ruby", "/usr/bin/apt-listbugs", "apt")
	b.end(end+2, sh, 0)
	b.finishApt(end+20, apt, sudo)
}

func (g *Generator) laListbugsExe(b *builder) {
	apt, sudo, sh, t := b.netHook("/usr/bin/apt-listbugs apt || exit 10")
	end := b.hookConnect(sh, t+g.between(100, 4000), ipBugsDebian, 443, "/usr/bin/apt-listbugs", "/usr/bin/ruby", "/usr/bin/apt-listbugs", "apt")
	b.end(end+2, sh, 0)
	b.finishApt(end+20, apt, sudo)
}

func (g *Generator) laNonPublic(b *builder) {
	ip, _ := g.nonPublicIP()
	port := pick(g, []int32{80, 443, 3142, 8080})
	host := ip
	if ip == "::1" || ip[0] == 'f' {
		host = "[" + ip + "]"
	}
	url := fmt.Sprintf("http://%s:%d/acng-report.html", host, port)
	apt, sudo, sh, t := b.netHook("curl -fsS -m 5 -o /dev/null " + url + " || true")
	end := b.hookConnect(sh, t+g.between(40, 4900), ip, port, "/usr/bin/curl", "curl", "-fsS", "-m", "5", "-o", "/dev/null", url)
	b.end(end+2, sh, 0)
	b.finishApt(end+20, apt, sudo)
}

func (g *Generator) laNetLate(b *builder) {
	ip := g.publicIPv4()
	url := fmt.Sprintf("http://%s/ping", ip)
	apt, sudo, sh, t := b.netHook("sleep 5; curl -fsS -o /dev/null " + url)
	_, _ = b.hookChild(t+g.between(1, 3), sh, 5000, "/usr/bin/sleep", "sleep", "5")
	connT := t + 5001
	if g.chance(0.7) {
		connT = t + g.between(5002, 9000)
	}
	end := b.hookConnect(sh, connT, ip, 80, "/usr/bin/curl", "curl", "-fsS", "-o", "/dev/null", url)
	b.end(end+2, sh, 0)
	b.finishApt(end+20, apt, sudo)
}

func (g *Generator) laGrandchild(b *builder) {
	ip := g.publicIPv4()
	url := fmt.Sprintf("http://%s/k", ip)
	apt, sudo, sh, t := b.netHook("echo " + url + " | xargs curl -s -o /var/tmp/.k")
	sub := b.fork(t+g.between(1, 3), sh, false) // subshell running echo
	b.end(sub.start+g.between(1, 3), sub, 0)
	x, tx := b.spawn(t+g.between(1, 4), sh, false, "/usr/bin/xargs", "xargs", "curl", "-s", "-o", "/var/tmp/.k")
	end := b.hookConnect(x, tx+g.between(20, 3000), ip, 80, "/usr/bin/curl", "curl", "-s", "-o", "/var/tmp/.k", url)
	b.end(end+1, x, 0)
	b.end(end+3, sh, 0)
	b.finishApt(end+20, apt, sudo)
}

func (g *Generator) laAptMethod(b *builder) {
	apt, sudo, t := b.startApt(b.t0, "apt", "update")
	sh, t := b.aptHook(t+g.between(5, 40), apt, "/usr/lib/update-notifier/update-motd-updates-available 2>/dev/null || true")
	b.mark(b.last())
	shExec := t
	_, t = b.hookChild(t+g.between(1, 3), sh, 800, "/usr/bin/dash", "/bin/sh", "-e", "/usr/lib/update-notifier/update-motd-updates-available")
	b.end(t, sh, 0)
	m, tm := b.spawn(shExec+g.between(10, 3000), apt, false, "/usr/lib/apt/methods/http", "/usr/lib/apt/methods/http")
	m.user, m.ruser = acctApt, acctApt
	b.connect(tm+g.between(2, 30), m, pick(g, g.mirrors(b.h)), 80, false, g.jitter(500))
	b.mark(b.evs[len(b.evs)-2])
	b.end(tm+1500, m, 0)
	b.finishApt(tm+1600, apt, sudo)
}

func (g *Generator) laOtherHost(b *builder) {
	other := g.hosts[g.intn(len(g.hosts))]
	for other == b.h {
		other = g.hosts[g.intn(len(g.hosts))]
	}
	apt, sudo, sh, t := b.netHook("/usr/lib/needrestart/apt-pinvoke -m u || true")
	_, end := b.hookChild(t+g.between(1, 3), sh, 900, "/usr/bin/dash", "/bin/sh", "/usr/lib/needrestart/apt-pinvoke", "-m", "u")
	b.end(end, sh, 0)
	// On another host, a process whose parent entity id equals the shell's
	// connects out within maxspan: the rule joins by host.id too.
	pid := other.nextPID + 1
	other.nextPID = pid
	start := t + g.between(20, 2000)
	c := &proc{
		pid: pid, start: start, entityID: other.entityID(pid, start),
		name: "curl", exe: "/usr/bin/curl", args: []string{"curl", "-s", "https://example.net/"}, cwd: "/",
		user: acctRoot, ruser: acctRoot, sha256: g.hashFor("/usr/bin/curl"), parent: sh,
		ancestry: []string{sh.entityID},
	}
	c.cmdline = "curl -s https://example.net/"
	c.session, c.group, c.entry = c, c, c
	e := b.connect(start+g.between(5, 500), c, g.publicIPv4(), 443, false, -1)
	e.h = other
	e.srcIP = other.ip[0]
	b.mark(e)
	b.finishApt(end+20, apt, sudo)
}

func (g *Generator) laAccepted(b *builder) {
	apt, sudo, sh, t := b.netHook("socat TCP-LISTEN:4444,reuseaddr,fork EXEC:/bin/sh &")
	c, tc := b.spawn(t+g.between(1, 4), sh, false, "/usr/bin/socat", "socat", "TCP-LISTEN:4444,reuseaddr,fork", "EXEC:/bin/sh")
	b.accept(tc+g.between(50, 4000), c, g.publicIPv4(), 4444, g.jitter(2000))
	b.mark(b.evs[len(b.evs)-2])
	end := tc + 6000
	b.end(end, c, 0)
	b.end(end+2, sh, 0)
	b.finishApt(end+20, apt, sudo)
}

// DPKG look-alikes.

// dpkgInstall runs "dpkg -i" from a session and returns dpkg.
func (b *builder) dpkgInstall(t int64, deb string) (dpkg, sudo *proc, t2 int64) {
	s, t := b.session(t, b.g.chance(0.5))
	args := []string{"dpkg", "-i", deb}
	if s.user == acctRoot {
		dpkg, t = b.spawn(t, s.shell, true, "/usr/bin/dpkg", args...)
		return dpkg, nil, t
	}
	sudo, t = b.spawn(t, s.shell, true, "/usr/bin/sudo", append([]string{"sudo"}, args...)...)
	sudo.user, sudo.egrp = acctRoot, sudo.ruser // setuid root: the caller's group stays
	dpkg, t = b.spawn(t+b.g.between(10, 80), sudo, false, "/usr/bin/dpkg", args...)
	dpkg.user, dpkg.ruser, dpkg.egrp = acctRoot, acctRoot, nil
	return dpkg, sudo, t
}

func (b *builder) endAll(t int64, ps ...*proc) int64 {
	for _, p := range ps {
		if p != nil {
			t += b.g.between(1, 20)
			b.end(t, p, 0)
		}
	}
	return t
}

func (g *Generator) laDpkgParent(b *builder) {
	p := pick(g, pkgs)
	d, sudo, t := b.dpkgInstall(b.t0, "./"+p.name+"_"+escVer(p.ver)+"_amd64.deb")
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	s, t := b.spawn(t+g.between(100, 2000), d, false, path, path, "configure", p.old)
	b.mark(b.last())
	t = b.postinstChildren(t, s, p)
	b.end(t, s, 0)
	b.endAll(t, d, sudo)
}

func (g *Generator) laDpkgReconfigure(b *builder) {
	s, t := b.session(b.t0, true)
	p := pick(g, []pkg{pkgs[4], pkgs[0], pkgs[12]})
	r, t := b.spawn(t, s.shell, true, "/usr/sbin/dpkg-reconfigure", "/usr/bin/perl", "-w", "/usr/sbin/dpkg-reconfigure", p.name)
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	sc, t := b.spawn(t+g.between(200, 3000), r, false, path, path, "configure", p.ver)
	b.mark(b.last())
	t = b.postinstChildren(t, sc, p)
	b.end(t, sc, 0)
	b.endAll(t, r)
}

func (g *Generator) laDpkgFrontend(b *builder) {
	p := pick(g, []pkg{pkgs[0], pkgs[4], pkgs[12], pkgs[16]})
	d, sudo, t := b.dpkgInstall(b.t0, "/tmp/"+p.name+"_"+escVer(p.ver)+"_amd64.deb")
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	s, t := b.spawn(t+g.between(100, 2000), d, false, path, path, "configure", p.old)
	fe := b.exec(t+g.between(2, 20), s, "/usr/share/debconf/frontend", []string{"/usr/bin/perl", "-w", "/usr/share/debconf/frontend", path, "configure", p.old})
	sc, t := b.spawn(t+g.between(30, 300), fe, false, path, path, "configure", p.old)
	b.mark(b.last())
	t = b.postinstChildren(t, sc, p)
	b.end(t, sc, 0)
	b.endAll(t, fe, d, sudo)
}

// laDpkgSessionLeader: a service runs "dpkg --configure -a" (so dpkg leads
// the session), and a trigger shell in its own process group runs a script.
func (g *Generator) laDpkgSessionLeader(b *builder) {
	d, t := b.service(b.t0, "/usr/bin/dpkg", "/usr/bin/dpkg", "--configure", "-a")
	p := pick(g, pkgs)
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	sh, t := b.spawn(t+g.between(20, 500), d, true, "/usr/bin/dash", "sh", "-c", path+" triggered "+p.name)
	sc, t := b.spawn(t+g.between(1, 5), sh, false, path, path, "triggered", p.name)
	b.mark(b.last())
	t = b.postinstChildren(t, sc, p)
	b.end(t, sc, 0)
	b.endAll(t, sh, d)
}

// laDpkgGroupLeader: an admin runs "dpkg --configure -a" as a job (dpkg
// leads the process group), and a trigger shell runs a script.
func (g *Generator) laDpkgGroupLeader(b *builder) {
	s, t := b.session(b.t0, true)
	d, t := b.spawn(t, s.shell, true, "/usr/bin/dpkg", "dpkg", "--configure", "-a")
	p := pick(g, pkgs)
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	sh, t := b.spawn(t+g.between(20, 500), d, false, "/usr/bin/dash", "sh", "-c", path+" triggered "+p.name)
	sc, t := b.spawn(t+g.between(1, 5), sh, false, path, path, "triggered", p.name)
	b.mark(b.last())
	t = b.postinstChildren(t, sc, p)
	b.end(t, sc, 0)
	b.endAll(t, sh, d)
}

func (g *Generator) laDpkgUnattended(b *builder) {
	uu, t := b.service(b.t0, "/usr/bin/unattended-upgrade", "/usr/bin/python3", "/usr/bin/unattended-upgrade")
	p := pick(g, pkgs)
	path := "/var/lib/dpkg/info/" + p.name + ".prerm"
	if g.chance(0.5) {
		path = "/var/lib/dpkg/info/" + p.name + ".postinst"
	}
	sc, t := b.spawn(t+g.between(200, 3000), uu, false, path, path, "upgrade", p.ver)
	b.mark(b.last())
	b.end(t+g.jitter(100), sc, 0)
	b.end(t+g.jitter(1000)+200, uu, 0)
}

// laDpkgNoLeaders: a script run outside dpkg, but without session and
// group leader information (the rule requires both names).
func (g *Generator) laDpkgNoLeaders(b *builder) {
	s, t := b.session(b.t0, true)
	p := pick(g, pkgs)
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	fk := b.fork(t, s.shell, true)
	fk.session, fk.group = nil, nil
	sc := b.exec(t+g.between(1, 3), fk, path, []string{path, "configure", p.old})
	b.mark(b.last())
	b.end(t+g.jitter(200)+5, sc, 0)
}

// laDpkgFork: a maintainer script forks; the fork event carries the
// script's executable and a non-dpkg parent, but it is not an exec.
func (g *Generator) laDpkgFork(b *builder) {
	p := pick(g, pkgs)
	d, sudo, t := b.dpkgInstall(b.t0, "./"+p.name+".deb")
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	s, t := b.spawn(t+g.between(100, 2000), d, false, path, path, "configure", p.old)
	fk := b.fork(t+g.between(2, 30), s, false)
	b.mark(b.last())
	c := b.exec(fk.start+g.between(1, 3), fk, "/usr/sbin/ldconfig", []string{"/sbin/ldconfig"})
	t = fk.start + g.jitter(40) + 5
	b.end(t, c, 0)
	b.end(t+g.between(1, 10), s, 0)
	b.endAll(t+10, d, sudo)
}

// laDpkgOutside: a developer runs a package's postinst from a build tree,
// not from /var/lib/dpkg/info.
func (g *Generator) laDpkgOutside(b *builder) {
	s, t := b.session(b.t0, true)
	p := pick(g, pkgs)
	path := "/root/build/" + p.name + "/debian/" + p.name + "/DEBIAN/postinst"
	sc, t := b.spawn(t, s.shell, true, path, path, "configure")
	b.mark(b.last())
	b.end(t+g.jitter(300), sc, 0)
}

// Chmod look-alikes.

// laChmod runs "chmod <mode> <persistence path>" with a mode outside the
// rule's patterns.
func laChmod(modes []string, persistencePath bool) func(*Generator, *builder) {
	return func(g *Generator, b *builder) {
		parent, cleanup, t := b.adminShell(b.t0)
		target := g.persistenceTarget(parent.user, pick(g, implantNames))
		if !persistencePath {
			target = "/usr/local/bin/" + pick(g, implantNames)
		}
		ch, t := b.spawn(t+g.between(100, 3000), parent, isLoginShell(parent), "/usr/bin/chmod", "chmod", pick(g, modes), target)
		b.mark(b.last())
		b.end(t+g.between(1, 4), ch, 0)
		cleanup(t + g.between(100, 2000))
	}
}

func (g *Generator) laChmodDpkg(b *builder) {
	p := pick(g, pkgs)
	d, sudo, t := b.dpkgInstall(b.t0, "./"+p.name+".deb")
	path := "/var/lib/dpkg/info/" + p.name + ".postinst"
	s, t := b.spawn(t+g.between(100, 2000), d, false, path, path, "configure", p.old)
	target := pick(g, []string{"/etc/init.d/" + p.name, "/etc/cron.daily/" + p.name, "/etc/update-motd.d/50-" + p.name})
	ch, t := b.spawn(t+g.between(2, 30), s, false, "/usr/bin/chmod", "chmod", pick(g, []string{"+x", "755"}), target)
	b.mark(b.last())
	t += g.between(1, 4)
	b.end(t, ch, 0)
	b.end(t+g.between(1, 10), s, 0)
	b.endAll(t+10, d, sudo)
}

func (g *Generator) laChmodMotdDir(b *builder) {
	parent, cleanup, t := b.adminShell(b.t0)
	ch, t := b.spawn(t+g.between(100, 3000), parent, isLoginShell(parent), "/usr/bin/chmod", "chmod", pick(g, []string{"755", "777"}), "/etc/update-motd.d/")
	b.mark(b.last())
	b.end(t+g.between(1, 4), ch, 0)
	cleanup(t + g.between(100, 2000))
}

func (g *Generator) laChmodMinusX(b *builder) {
	parent, cleanup, t := b.adminShell(b.t0)
	target := pick(g, []string{"/etc/update-motd.d/50-motd-news", "/etc/update-motd.d/10-help-text", "/etc/update-motd.d/91-release-upgrade", "/etc/cron.daily/man-db"})
	ch, t := b.spawn(t+g.between(100, 3000), parent, isLoginShell(parent), "/usr/bin/chmod", "chmod", pick(g, []string{"-x", "a-x"}), target)
	b.mark(b.last())
	b.end(t+g.between(1, 4), ch, 0)
	cleanup(t + g.between(100, 2000))
}

func (g *Generator) laChmodOtherPath(b *builder) {
	parent, cleanup, t := b.adminShell(b.t0)
	target := pick(g, []string{"/usr/local/bin/", "/opt/tools/", "/srv/app/bin/", "/var/tmp/"}) + pick(g, implantNames)
	ch, t := b.spawn(t+g.between(100, 3000), parent, isLoginShell(parent), "/usr/bin/chmod", "chmod", pick(g, []string{"+x", "755", "777"}), target)
	b.mark(b.last())
	b.end(t+g.between(1, 4), ch, 0)
	cleanup(t + g.between(100, 2000))
}

func (g *Generator) laInstallNoExec(b *builder) {
	parent, cleanup, t := b.adminShell(b.t0)
	name := pick(g, implantNames)
	target := pick(g, []string{"/etc/cron.d/", "/etc/udev/rules.d/99-", "/etc/xdg/autostart/"}) + name
	in, t := b.spawn(t+g.between(100, 3000), parent, isLoginShell(parent), "/usr/bin/install", "install", "-m", pick(g, []string{"644", "640", "600"}), "/tmp/"+name, target)
	b.mark(b.last())
	b.file(t+g.between(1, 5), in, evFileCreate, target, g.between(100, 4000))
	b.end(t+g.between(6, 10), in, 0)
	cleanup(t + g.between(100, 2000))
}

func (g *Generator) laInstallAttached(b *builder) {
	parent, cleanup, t := b.adminShell(b.t0)
	name := pick(g, implantNames)
	target := "/etc/init.d/" + name
	in, t := b.spawn(t+g.between(100, 3000), parent, isLoginShell(parent), "/usr/bin/install", "install", pick(g, []string{"-m755", "-m0755", "--mode=755"}), "/tmp/"+name, target)
	b.mark(b.last())
	b.file(t+g.between(1, 5), in, evFileCreate, target, g.between(100, 4000))
	b.end(t+g.between(6, 10), in, 0)
	cleanup(t + g.between(100, 2000))
}
