// config_test.go: the YAML subset reader, one row per case: the configs
// scaleprof writes (gen, and sweep --load's libyaml re-emit), the YAML shapes
// around them that must read the same, and malformed files whose error must
// name the right line.
package main

import (
	"strings"
	"testing"
)

// genOutput is what `scaleprof gen --target tsnsrv --counts 2` writes.
const genOutput = `# scaleprof gen: 2 services for tsnsrv
prometheusAddr: 127.0.0.1:9099
services:
- name: svc1
  upstream: http://127.0.0.1:8080
  ephemeral: true
  funnel: false
  listenAddr: :443
  stateDir: /var/lib/tsnsrv/svc1
  suppressWhois: false
  timeout: 60s
- name: svc2
  upstream: http://127.0.0.1:8080
  ephemeral: true
  funnel: false
  listenAddr: :443
  stateDir: /var/lib/tsnsrv/svc2
  suppressWhois: false
  timeout: 60s
`

func TestParseConfigAcceptsTheShapesScaleprofWrites(t *testing.T) {
	cases := []struct {
		why    string
		text   string
		admin  string
		names  string // space-separated
		listen string // space-separated, as written
	}{
		{"gen's output", genOutput, "127.0.0.1:9099", "svc1 svc2", ":443 :443"},
		{"items indented under their key",
			"prometheusAddr: 127.0.0.1:9100\nservices:\n  - name: a\n    listenAddr: 127.0.0.1:8001\n  - name: b\n",
			"127.0.0.1:9100", "a b", "127.0.0.1:8001 :443"},
		{"document markers and quoted scalars as libyaml may emit them",
			"---\nprometheusAddr: \"127.0.0.1:9101\"\nservices:\n- name: 'it''s'\n  listenAddr: \"127.0.0.1:80\\\"\"\n...\n",
			"127.0.0.1:9101", "it's", "127.0.0.1:80\""},
		{"comments, blank lines, and a # that is part of a value",
			"# head\n\nprometheusAddr: 127.0.0.1:9102 # admin\nservices: # list\n\n- name: a#1\n  upstream: http://h/#frag\n  # a comment line\n",
			"127.0.0.1:9102", "a#1", ":443"},
		{"a dash alone with the mapping below it",
			"services:\n-\n  name: a\n-\n  name: b\n", "127.0.0.1:9099", "a b", ":443 :443"},
		{"keys gosrv ignores, whatever their value",
			"tailnet: x\nservices:\n- name: a\n  upstreamHeaders:\n    X-A: b\n    X-C:\n      - d\n  tags: [tag:a, \"tag:b\"]\n  respond: {status: 200}\n  note: |\n    two\n    lines\n  listenAddr: 127.0.0.1:9\nextra:\n  - 1\n",
			"127.0.0.1:9099", "a", "127.0.0.1:9"},
		{"prometheusAddr without a host", "prometheusAddr: :9103\nservices:\n- name: a\n",
			":9103", "a", ":443"},
		{"CRLF line ends", "services:\r\n- name: a\r\n  listenAddr: :443\r\n", "127.0.0.1:9099", "a", ":443"},
	}
	for _, c := range cases {
		cfg, err := parseConfig("t.yaml", []byte(c.text))
		if err != nil {
			t.Errorf("%s: %v", c.why, err)
			continue
		}
		var names, listen []string
		for _, s := range cfg.Services {
			names = append(names, s.Name)
			listen = append(listen, s.ListenAddr)
		}
		if cfg.PrometheusAddr != c.admin || strings.Join(names, " ") != c.names ||
			strings.Join(listen, " ") != c.listen {
			t.Errorf("%s: got admin %q names %q listen %q, want %q %q %q", c.why, cfg.PrometheusAddr,
				strings.Join(names, " "), strings.Join(listen, " "), c.admin, c.names, c.listen)
		}
	}
}

func TestParseConfigRejectsWithFileAndLine(t *testing.T) {
	cases := []struct {
		why  string
		text string
		want string // prefix "t.yaml:LINE: " plus a fragment of the message
		frag string
	}{
		{"empty file", "# nothing\n", "t.yaml: ", "empty config"},
		{"tab indentation", "services:\n- name: a\n\tlistenAddr: :1\n", "t.yaml:3: ", "tab"},
		{"a line that is not key: value", "services:\n- name: a\n  listenAddr :1\n", "t.yaml:3: ", "key: value"},
		{"duplicate key", "services:\n- name: a\n  name: b\n", "t.yaml:3: ", "first at line 2"},
		{"duplicate service name", "services:\n- name: a\n- name: b\n- name: a\n", "t.yaml:4: ", "line 2"},
		{"no services key", "prometheusAddr: 127.0.0.1:1\n", "t.yaml:1: ", "no services"},
		{"empty services", "services:\n", "t.yaml:1: ", "empty"},
		{"empty flow services", "services: []\n", "t.yaml:1: ", "empty"},
		{"flow-style services", "services: [{name: a}]\n", "t.yaml:1: ", "block list"},
		{"a service without a name", "services:\n- name: a\n- listenAddr: :1\n", "t.yaml:3: ", "without a name"},
		{"an empty name", "services:\n- name: ''\n", "t.yaml:2: ", "name: empty"},
		{"a list as a name", "services:\n- name: [a, b]\n", "t.yaml:2: ", "single value"},
		{"listenAddr without a port", "services:\n- name: a\n  listenAddr: 443\n", "t.yaml:3: ", "host:port"},
		{"prometheusAddr off loopback", "prometheusAddr: 0.0.0.0:9099\nservices:\n- name: a\n", "t.yaml:1: ", "loopback"},
		{"unterminated quote", "services:\n- name: \"a\n", "t.yaml:2: ", "unterminated"},
		{"text after a closing quote", "services:\n- name: \"a\" b\n", "t.yaml:2: ", "after the closing"},
		{"a deeper line after a one-line value", "services:\n- name: a\n    more\n", "t.yaml:3: ", "indentation"},
		{"a list item among keys", "services:\n- name: a\n  - b\n", "t.yaml:3: ", "list item where a key"},
		{"a second document", "services:\n- name: a\n---\nservices:\n", "t.yaml:3: ", "more than one"},
		{"an alias", "services:\n- name: *a\n", "t.yaml:2: ", "aliases"},
		{"an unsupported escape", "services:\n- name: \"a\\q\"\n", "t.yaml:2: ", "escape"},
		{"the top level indented", "  services:\n  - name: a\n", "t.yaml:1: ", "column 1"},
		{"a list at the top level", "- name: a\n", "t.yaml:1: ", "mapping"},
	}
	for _, c := range cases {
		_, err := parseConfig("t.yaml", []byte(c.text))
		if err == nil {
			t.Errorf("%s: accepted", c.why)
			continue
		}
		if _, ok := err.(*configError); !ok {
			t.Errorf("%s: %T is not a *configError", c.why, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, c.want) || !strings.Contains(msg, c.frag) {
			t.Errorf("%s: got %q, want prefix %q containing %q", c.why, msg, c.want, c.frag)
		}
	}
}

func TestListenAddrsKeepGosrvOnLoopback(t *testing.T) {
	cases := []struct{ in, service, admin string }{
		{":443", "127.0.0.1:0", "127.0.0.1:443"},
		{"127.0.0.1:8001", "127.0.0.1:8001", "127.0.0.1:8001"},
		{"[::1]:8002", "[::1]:8002", "[::1]:8002"},
	}
	for _, c := range cases {
		if got := serviceListenAddr(c.in); got != c.service {
			t.Errorf("serviceListenAddr(%q) = %q, want %q", c.in, got, c.service)
		}
		if got := adminListenAddr(c.in); got != c.admin {
			t.Errorf("adminListenAddr(%q) = %q, want %q", c.in, got, c.admin)
		}
	}
}

func TestLoadConfigNamesAMissingFile(t *testing.T) {
	_, err := loadConfig(t.TempDir() + "/absent.yaml")
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("got %v", err)
	}
}
