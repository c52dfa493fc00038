// Package rules holds detection rules as eqlstream sees them: the metadata of
// an Elastic detection rule, the loading of rule files, and the detections
// built into the processor.
//
// # Rule files
//
// Rules are TOML files in the format of elastic/detection-rules: a
// [metadata] table, a [rule] table with the query and its description, and
// [[rule.threat]] tables with the MITRE ATT&CK mapping. [ParseTOML] reads one
// file; [LoadPath] and [LoadPaths] read files and directory trees. A loader
// keeps every rule it can and reports every problem it finds, so one bad
// file never hides the others:
//
//   - TOML syntax and type errors, with the file, line and column;
//   - EQL rules without a rule_id, name or query;
//   - a rule_id defined by two files (the error names both);
//   - unreadable files and directories.
//
// Only EQL rules are loaded. Rules of other types (query, threshold,
// machine_learning, esql, ...) are skipped and counted in [LoadStats], as are
// the files under _deprecated directories. The loader does not parse the
// queries: [Rule.Source] is ready for eql.Parse, and because it records where
// the query text starts in the TOML file, parse errors point into the file
// (rules/x.toml:42:17, then the line and a caret).
//
// # Built-in detections
//
// [Builtin] returns the detections shipped inside the binary. They are
// ordinary rule files (rules/builtin/*.toml) in the same format, so they can
// be checked like any other rule and copied as examples.
package rules
