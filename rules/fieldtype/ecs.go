package fieldtype

import (
	"strings"
	"sync"
)

// The built-in table: the Elastic Common Schema field sets endpoint rules
// use, and the Elastic Defend (endpoint) fields the detection rules read
// beyond ECS. It is written for eqlstream from the ECS reference (field
// names and their Elasticsearch types as published for ECS 8.17, the
// version Elastic's 8.x/9.x endpoint integrations map); no ECS file is
// shipped. Each line is a field set: names separated by spaces, a type after
// a colon when it is not keyword ("pid:long"), "@set" to reuse another set
// below the current prefix. Field sets ECS defines but this table does not
// enumerate (cloud, threat, tls, ...) and every endpoint "Ext" object are
// open: the checker does not call their fields unknown. The generator
// (internal/gen) and the corpus rules are checked against this table by
// tests.
//
// ECSVersion is the ECS version the table follows.
const ECSVersion = "8.17"

var ecsSets = map[string]string{
	"hash":           "md5 sha1 sha256 sha384 sha512 ssdeep tlsh",
	"code_signature": "digest_algorithm exists:boolean flags signing_id status subject_name team_id timestamp:date trusted:boolean valid:boolean",
	"pe": "architecture company description file_version go_import_hash go_imports:flattened go_imports_names_entropy:long " +
		"go_imports_names_var_entropy:long go_stripped:boolean imphash import_hash imports:flattened imports_names_entropy:long " +
		"imports_names_var_entropy:long original_file_name pehash product sections:nested",
	"elf": "architecture byte_order cpu_type creation_date:date exports:flattened go_import_hash go_imports:flattened " +
		"go_stripped:boolean header.abi_version header.class header.data header.entrypoint:long header.object_version " +
		"header.os_abi header.type header.version import_hash imports:flattened sections:nested segments:nested " +
		"shared_libraries telfhash",
	"macho":   "go_import_hash go_imports:flattened go_stripped:boolean import_hash imports:flattened sections:nested symhash",
	"id_name": "id name",
	"user":    "domain email full_name hash id name roles group.domain group.id group.name",
	"geo": "city_name continent_code continent_name country_iso_code country_name location:geo_point name postal_code " +
		"region_iso_code region_name timezone",
	"as": "number:long organization.name",
	"os": "family full kernel name platform type version",
	"endpoint": "address bytes:long domain ip:ip mac packets:long port:long registered_domain subdomain top_level_domain " +
		"nat.ip:ip nat.port:long as.@as geo.@geo user.@user",
	// the process fields reused at process, process.parent and the leaders
	"process": "args args_count:long command_line:wildcard end:date entity_id env_vars executable:wildcard exit_code:long " +
		"interactive:boolean name pgid:long pid:long same_as_process:boolean start:date title uptime:long vpid:long " +
		"working_directory thread.id:long thread.name thread.capabilities.effective thread.capabilities.permitted " +
		"tty.char_device.major:long tty.char_device.minor:long tty.columns:long tty.rows:long " +
		"hash.@hash code_signature.@code_signature pe.@pe elf.@elf macho.@macho " +
		"user.@id_name group.@id_name real_user.@id_name saved_user.@id_name real_group.@id_name saved_group.@id_name " +
		"supplemental_groups.@id_name attested_user.@id_name attested_groups.name " +
		"entry_meta.type entry_meta.source.ip:ip io.text io.type io.total_bytes_captured:long io.total_bytes_skipped:long " +
		"io.max_bytes_per_process_exceeded:boolean previous.args previous.args_count:long previous.executable",
	"file": "accessed:date attributes created:date ctime:date device directory drive_letter extension fork_name gid group " +
		"inode mime_type mode mtime:date name owner path:wildcard size:long target_path:wildcard type uid " +
		"origin_referrer_url origin_url hash.@hash code_signature.@code_signature pe.@pe elf.@elf macho.@macho",
	"dll": "name path hash.@hash code_signature.@code_signature pe.@pe",
	"event": "action agent_id_status category code created:date dataset duration:long end:date hash id ingested:date " +
		"kind module original outcome provider reason reference risk_score:float risk_score_norm:float sequence:long " +
		"severity:long start:date timezone type url",
	"host": "architecture boot.id cpu.usage:scaled_float disk.read.bytes:long disk.write.bytes:long domain hostname id ip:ip " +
		"mac name network.egress.bytes:long network.egress.packets:long network.ingress.bytes:long " +
		"network.ingress.packets:long pid_ns_ino type uptime:long os.@os geo.@geo risk.calculated_level " +
		"risk.calculated_score:float risk.calculated_score_norm:float risk.static_level risk.static_score:float " +
		"risk.static_score_norm:float",
	"network": "application bytes:long community_id direction forwarded_ip:ip iana_number inner:object name packets:long " +
		"protocol transport type vlan.id vlan.name",
	"dns": "answers:object header_flags id op_code question.class question.name question.registered_domain " +
		"question.subdomain question.top_level_domain question.type resolved_ip:ip response_code type",
	"http": "request.body.bytes:long request.body.content:wildcard request.bytes:long request.id request.method " +
		"request.mime_type request.referrer response.body.bytes:long response.body.content:wildcard response.bytes:long " +
		"response.mime_type response.status_code:long version",
	"url": "domain extension fragment full:wildcard original:wildcard password path:wildcard port:long query " +
		"registered_domain scheme subdomain top_level_domain username",
	"registry": "data.bytes data.strings:wildcard data.type hive key path value",
	"agent":    "build.original ephemeral_id id name type version",
	"container": "cpu.usage:scaled_float id image.hash.all image.name image.tag labels:object name runtime " +
		"security_context.privileged:boolean disk.read.bytes:long disk.write.bytes:long memory.usage:scaled_float " +
		"network.egress.bytes:long network.ingress.bytes:long",
	"orchestrator": "api_version cluster.id cluster.name cluster.url cluster.version namespace organization " +
		"resource.annotation resource.id resource.ip:ip resource.label resource.name resource.parent.type resource.type type",
	"data_stream": "dataset namespace type",
	"related":     "hash hosts ip:ip user",
	"rule":        "author category description id license name reference ruleset uuid version",
	"user_agent":  "name original device.name version os.@os",
	"ecs":         "version",
}

// ecsTop places the field sets: prefix then set.
var ecsTop = [][2]string{
	{"agent", "agent"}, {"client", "endpoint"}, {"server", "endpoint"}, {"source", "endpoint"},
	{"destination", "endpoint"}, {"container", "container"}, {"data_stream", "data_stream"}, {"dll", "dll"},
	{"dns", "dns"}, {"ecs", "ecs"}, {"event", "event"}, {"file", "file"}, {"group", "user"}, {"host", "host"},
	{"http", "http"}, {"network", "network"}, {"orchestrator", "orchestrator"}, {"process", "process"},
	{"process.parent", "process"}, {"process.group_leader", "process"}, {"process.session_leader", "process"},
	{"process.entry_leader", "process"}, {"process.parent.group_leader", "process"},
	{"process.entry_leader.parent", "process"}, {"process.entry_leader.parent.session_leader", "process"},
	{"process.session_leader.parent", "process"}, {"process.session_leader.parent.session_leader", "process"},
	{"registry", "registry"}, {"related", "related"}, {"rule", "rule"}, {"url", "url"}, {"user", "user"},
	{"user.target", "user"}, {"user.effective", "user"}, {"user.changes", "user"}, {"user_agent", "user_agent"},
	{"host.os", "os"}, {"observer.os", "os"},
}

// ecsSingle are top-level fields outside any set.
const ecsSingle = "@timestamp:date message:text tags labels:object"

// ecsOpen are namespaces ECS (or an integration the rules read) defines and
// the table does not enumerate.
const ecsOpen = "cloud threat tls log service error observer vulnerability email faas interface package span trace " +
	"transaction gen_ai device volume file.x509 user.risk"

// endpointTyped are Elastic Defend fields beyond ECS whose type changes a
// comparison, and the endpoint-only top-level objects.
const endpointTyped = "process.Ext.relative_file_creation_time:double process.Ext.relative_file_name_modify_time:double " +
	"dll.Ext.relative_file_creation_time:double dll.Ext.relative_file_name_modify_time:double " +
	"file.Ext.entropy:double file.Ext.windows.zone_identifier:long process.parent.Ext.real.pid:long " +
	"process.Ext.effective_parent.pid:long Effective_process.pid:long Effective_process.entity_id " +
	"Effective_process.executable Effective_process.name user.Ext.real.id user.Ext.real.name group.Ext.real.id " +
	"group.Ext.real.name Target.process.pid:long Target.process.name Target.process.executable " +
	"Persistence.name Persistence.path Persistence.runatload:boolean Persistence.keepalive:boolean " +
	"Persistence.args Persistence.executable"

var (
	builtinOnce sync.Once
	builtin     *Schema
)

// Builtin returns the built-in ECS and endpoint table. The schema is shared:
// Clone it before adding to it.
func Builtin() *Schema {
	builtinOnce.Do(func() {
		s := New()
		for _, t := range ecsTop {
			s.addSet(t[0]+".", t[1], 0)
		}
		s.addFields("", ecsSingle)
		s.addFields("", endpointTyped)
		for _, o := range strings.Fields(ecsOpen) {
			s.Open(o)
		}
		s.Open("labels")
		builtin = s
	})
	return builtin
}

func (s *Schema) addSet(prefix, set string, depth int) {
	if depth > 4 {
		panic("fieldtype: field sets nest too deep at " + prefix)
	}
	spec, ok := ecsSets[set]
	if !ok {
		panic("fieldtype: no field set " + set)
	}
	for _, item := range strings.Fields(spec) {
		if sub, ref, ok := strings.Cut(item, "@"); ok {
			s.addSet(prefix+sub, ref, depth+1)
			continue
		}
		s.addFields(prefix, item)
	}
}

// addFields adds "name[:type] ..." below prefix.
func (s *Schema) addFields(prefix, spec string) {
	for _, item := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(item, ":")
		t := Keyword
		if typ != "" {
			t = ParseType(typ)
		}
		f := Field{Name: prefix + name, Type: t}
		if t == Object {
			s.Open(f.Name) // object, nested, flattened: sub-fields not enumerated
		}
		if t == ScaledFloat {
			f.ScalingFactor = 1000
		}
		s.Add(f)
	}
}
