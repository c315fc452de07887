package console

import (
	"regexp"
	"strings"

	"hotline/internal/operator"
)

// Catalogs exposes the message catalogs to the tests.
func Catalogs() map[string]map[string]string { return catalogs }

// TemplateKeys lists every key the templates and the script ask for.
func TemplateKeys() []string {
	data, _ := assets.ReadFile("assets/pages.html")
	var keys []string
	for _, m := range regexp.MustCompile(`\.T "([a-z_]+)"`).FindAllStringSubmatch(string(data), -1) {
		keys = append(keys, m[1])
	}
	for _, r := range operator.Roles {
		keys = append(keys, "role_"+r)
	}
	for _, s := range strings.Fields("queued delivered received acknowledged") {
		keys = append(keys, "status_"+s)
	}
	for r := range ranges {
		keys = append(keys, r)
	}
	return append(keys, scriptKeys...)
}
