// Package gen generates a deterministic, seeded stream of synthetic Elastic
// Defend Linux endpoint events as NDJSON, for the demo (`processor gen`),
// benchmarks and exactly-once tests.
//
// The stream models a fleet of Debian-family hosts. Each host has a stable
// identity (host.id, agent.id, OS, kernel) and long-running daemons (systemd,
// sshd, cron, journald, the Elastic agent, role-specific services). Background
// activity is built from small, self-consistent process trees: interactive SSH
// sessions running commands, cron jobs, systemd units, apt/dpkg updates with
// their usual hooks and maintainer scripts, network connections to private and
// public addresses, and file writes. Every process has an entity_id, and
// children reference their parent's and leaders' entity_ids, as Elastic Defend
// does, so sequence rules joined by entity ids see real trees.
//
// Events carry the fields Elastic Defend sends on Linux (the endpoint
// package's per-event field lists): process events the effective and real
// user and group (process.user, process.real_user, process.group,
// process.real_group, and top-level user/group with Ext.real), md5, sha1 and
// sha256 hashes, the parent and the session, group and entry leaders each
// with args, user, group, real_user, real_group, start, tty and working
// directory; network and file events the short process reference Defend
// sends there. Defend sends no code_signature on Linux, so neither does the
// generator. A setuid binary (sudo) runs with effective user root and the
// caller's effective group. Rules that compare a field with `!=` are true
// on a missing field, so a missing field is noise for a whole corpus.
//
// On top of the background, the generator injects attack chains and
// look-alikes for four Elastic detection rules:
//
//   - apt_shell: "Suspicious APT Package Manager Execution" (apt spawns a shell
//     with -c which spawns an interpreter within 5s),
//   - apt_netcon: "Suspicious APT Package Manager Network Connection" (a child
//     of that shell connects to a public address within 5s),
//   - dpkg_unusual: "Unusual DPKG Execution" (a /var/lib/dpkg/info script run
//     outside dpkg),
//   - chmod_persistence: "Executable Bit Set for Potential Persistence Script".
//
// Every attack chain is built to match the published query of its rule, and
// every look-alike to hit one documented exclusion of it or to miss it narrowly
// (too late, another parent, another host, a non-executable mode...). Neither
// the background nor a look-alike is meant to match any of the four rules, so
// a correct engine raises exactly Stats().ChainsByKind alerts; Injections
// lists what was injected where, for precise comparisons.
//
// Output is byte-identical for the same Config: randomness comes from one
// math/rand/v2 PCG seeded from Config.Seed, no map is iterated, and no wall
// clock is read. JSON is written by hand with a fixed key order. About 5% of
// the events use dotted keys for some objects ("process.name": "bash" at top
// level, or "process": {"parent.name": ...}), which Elasticsearch treats like
// nested objects.
//
// Event time advances at Config.Rate events per second over all hosts. Events
// are emitted in @timestamp order except for a bounded disorder: an event may
// be held back by up to Config.Disorder, as agents batching per data stream
// do, so within one host an emitted event's @timestamp is never earlier than
// the greatest @timestamp emitted before it for that host minus Disorder.
package gen
