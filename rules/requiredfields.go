package rules

// RequiredFieldNames returns the names of the rule's required_fields
// ([[rule.required_fields]] tables with a name, as Elastic's rules list the
// fields their query reads); processor check counts them as known fields.
func (r *Rule) RequiredFieldNames() []string {
	list, _ := r.Metadata["required_fields"].([]any)
	var out []string
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			if n, ok := m["name"].(string); ok && n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}
