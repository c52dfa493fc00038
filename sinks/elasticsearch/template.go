package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/eqlstream/eqlstream/rules/elasticalert"
	json "github.com/goccy/go-json"
)

// installTemplate puts the composable index template TemplateName for
// Index* (mappings from the Elastic alert field map). On a cluster without
// the wildcard or match_only_text field types (a basic/OSS distribution) it
// falls back to keyword and text for those fields.
func (s *Sink) installTemplate(ctx context.Context) error {
	put := func(o elasticalert.TemplateOptions) (int, []byte, error) {
		body, err := json.Marshal(elasticalert.IndexTemplate([]string{s.cfg.Index + "*"}, o))
		if err != nil {
			return 0, nil, err
		}
		res, err := s.es.Indices.PutIndexTemplate(s.cfg.TemplateName, bytes.NewReader(body), s.es.Indices.PutIndexTemplate.WithContext(ctx))
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 8192))
		return res.StatusCode, raw, nil
	}
	code, raw, err := put(elasticalert.TemplateOptions{})
	if err == nil && code == http.StatusBadRequest && (strings.Contains(string(raw), "wildcard") || strings.Contains(string(raw), "match_only_text")) {
		s.log.Warn("this cluster lacks the wildcard/match_only_text field types; installing the template with keyword/text for those fields", "template", s.cfg.TemplateName)
		code, raw, err = put(elasticalert.TemplateOptions{Basic: true})
	}
	if err != nil {
		return fmt.Errorf("index template %s: %w", s.cfg.TemplateName, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("index template %s: HTTP %d: %.400s", s.cfg.TemplateName, code, raw)
	}
	s.log.Info("index template installed", "template", s.cfg.TemplateName, "index_patterns", s.cfg.Index+"*")
	return nil
}
