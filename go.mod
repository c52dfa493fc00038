module github.com/eqlstream/eqlstream

go 1.26.8

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/pelletier/go-toml/v2 v2.2.4
)

require (
	github.com/goccy/go-json v0.12.0
	gopkg.in/yaml.v3 v3.0.1
)
