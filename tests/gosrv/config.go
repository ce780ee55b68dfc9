// config.go: reads the tsnsrv-style YAML that `scaleprof gen --target tsnsrv`
// writes (and that `scaleprof sweep --load` re-emits through libyaml).
//
// gosrv may use the standard library only, which has no YAML, so this is a
// small reader for the block-style subset those files use: mappings and
// sequences by indentation ("- " items at or under their key's indent),
// plain, 'single' and "double" quoted scalars, comments, and "---"/"..."
// markers. Keys gosrv does not use are skipped whatever their value (a nested
// block, a one-line flow collection, a |/> block scalar). Anything outside the
// subset is an error naming the line, never a silent guess.
//
// What gosrv takes from the file: top-level prometheusAddr (loopback only,
// since it serves pprof; default 127.0.0.1:9099 as tsnsrv's) and, per item of
// services, name (required, unique), listenAddr (default ":443") and
// upstream (only logged: gosrv answers requests itself).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// maxConfigBytes bounds what we read: 10 000 services of tsnsrv YAML are ~2 MB.
const maxConfigBytes = 64 << 20

type serviceConfig struct {
	Name       string
	Upstream   string
	ListenAddr string // as written (":443", "127.0.0.1:8001")
	Line       int    // of the item's "-", for messages
}

type config struct {
	PrometheusAddr string
	Services       []serviceConfig
}

// configError is a problem at a line of the file; Error() is "FILE:LINE: message".
type configError struct {
	File string
	Line int
	Msg  string
}

func (e *configError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// loadConfig reads and checks path. The error is a *configError, or a plain
// error when the file cannot be read.
func loadConfig(path string) (*config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(text) > maxConfigBytes {
		return nil, &configError{path, 0, fmt.Sprintf("larger than %d bytes", maxConfigBytes)}
	}
	return parseConfig(path, text)
}

// parseConfig turns the text of a config into a config; name is for messages.
func parseConfig(name string, text []byte) (*config, error) {
	p := &yparser{file: name}
	if err := p.split(text); err != nil {
		return nil, err
	}
	if len(p.lines) == 0 {
		return nil, p.errAt(0, "empty config: expected prometheusAddr and services")
	}
	if p.lines[0].indent != 0 {
		return nil, p.errAt(p.lines[0].no, "the top level must start at column 1")
	}
	root, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.lines) {
		return nil, p.errAt(p.lines[p.pos].no, "unexpected indentation")
	}
	if root.kind != ymap {
		return nil, p.errAt(root.line, "the top level must be a mapping (key: value)")
	}
	return p.interpret(root)
}

func (p *yparser) interpret(root *ynode) (*config, error) {
	c := &config{PrometheusAddr: "127.0.0.1:9099"}
	if v := root.get("prometheusAddr"); v != nil {
		s, err := p.scalar(v, "prometheusAddr")
		if err != nil {
			return nil, err
		}
		if msg := checkAdminAddr(s); msg != "" {
			return nil, p.errAt(v.line, "prometheusAddr: "+msg)
		}
		c.PrometheusAddr = s
	}
	svcs := root.get("services")
	if svcs == nil {
		return nil, p.errAt(root.line, "no services: list (expected services: with one \"- name: ...\" item per service)")
	}
	if svcs.kind == yflow && strings.TrimSpace(svcs.text) == "[]" ||
		svcs.kind == yscalar && svcs.text == "" && !svcs.quoted {
		return nil, p.errAt(svcs.line, "services: the list is empty")
	}
	if svcs.kind != yseq {
		return nil, p.errAt(svcs.line, "services: expected a block list of \"- name: ...\" items")
	}
	seen := map[string]int{}
	for _, item := range svcs.items {
		if item.kind != ymap {
			return nil, p.errAt(item.line, "services: each item must be a mapping (name: ..., listenAddr: ...)")
		}
		s := serviceConfig{ListenAddr: ":443", Line: item.line}
		v := item.get("name")
		if v == nil {
			return nil, p.errAt(item.line, "service without a name")
		}
		var err error
		if s.Name, err = p.scalar(v, "name"); err != nil {
			return nil, err
		}
		if s.Name == "" {
			return nil, p.errAt(v.line, "name: empty")
		}
		if first, dup := seen[s.Name]; dup {
			return nil, p.errAt(v.line, fmt.Sprintf("name: %q already used at line %d", s.Name, first))
		}
		seen[s.Name] = v.line
		if v = item.get("listenAddr"); v != nil {
			if s.ListenAddr, err = p.scalar(v, "listenAddr"); err != nil {
				return nil, err
			}
			if _, _, err := net.SplitHostPort(s.ListenAddr); err != nil {
				return nil, p.errAt(v.line, fmt.Sprintf("listenAddr: %q: expected host:port or :port", s.ListenAddr))
			}
		}
		if v = item.get("upstream"); v != nil {
			if s.Upstream, err = p.scalar(v, "upstream"); err != nil {
				return nil, err
			}
		}
		c.Services = append(c.Services, s)
	}
	return c, nil
}

// checkAdminAddr: "" when addr is a loopback host:port (or :port), else why not.
func checkAdminAddr(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q: expected host:port", addr)
	}
	if host == "" || host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("%q: gosrv serves pprof and listens on loopback only", addr)
}

// adminListenAddr: where to listen for prometheusAddr (":9099" means loopback).
func adminListenAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// serviceListenAddr: tsnsrv's ":443" is the node's own tailnet address; gosrv
// has no tailnet, so a host-less address becomes a kernel-chosen loopback port.
func serviceListenAddr(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if host == "" {
		return "127.0.0.1:0"
	}
	return addr
}

// ---- the YAML subset ----

type ykind int

const (
	yscalar ykind = iota
	ymap
	yseq
	yflow // a one-line {...} or [...] kept as text
	yraw  // a |/> block scalar kept as text
)

type ynode struct {
	kind   ykind
	line   int
	text   string // scalar value, or raw text of a flow/block scalar
	quoted bool
	keys   []string
	vals   []*ynode
	klines []int
	items  []*ynode
}

func (n *ynode) get(key string) *ynode {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

type yline struct {
	no     int
	indent int
	text   string // without indentation and comment, right-trimmed
}

type yparser struct {
	file  string
	lines []yline
	pos   int
}

func (p *yparser) errAt(line int, msg string) error {
	return &configError{p.file, line, msg}
}

func (p *yparser) scalar(n *ynode, key string) (string, error) {
	if n.kind != yscalar {
		return "", p.errAt(n.line, key+": expected a single value")
	}
	return n.text, nil
}

// split cuts text into content lines: indentation counted, comments and blank
// lines dropped, document markers checked.
func (p *yparser) split(text []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	no, docs, ended := 0, 0, false
	for sc.Scan() {
		no++
		raw := strings.TrimRight(sc.Text(), "\r")
		ind := 0
		for ind < len(raw) && raw[ind] == ' ' {
			ind++
		}
		rest := raw[ind:]
		if strings.HasPrefix(rest, "\t") {
			return p.errAt(no, "tab in indentation (YAML indents with spaces)")
		}
		body, err := stripComment(rest)
		if err != nil {
			return p.errAt(no, err.Error())
		}
		body = strings.TrimRight(body, " \t")
		if body == "" {
			continue
		}
		if ind == 0 && (body == "---" || strings.HasPrefix(body, "--- ")) {
			docs++
			if docs > 1 || len(p.lines) > 0 {
				return p.errAt(no, "more than one YAML document")
			}
			if body != "---" {
				return p.errAt(no, "content after \"---\" is not supported")
			}
			continue
		}
		if ind == 0 && body == "..." {
			ended = true
			continue
		}
		if ended {
			return p.errAt(no, "content after the end of the document (\"...\")")
		}
		if strings.HasPrefix(body, "%") && ind == 0 {
			return p.errAt(no, "YAML directives are not supported")
		}
		p.lines = append(p.lines, yline{no, ind, body})
	}
	if err := sc.Err(); err != nil {
		return p.errAt(no+1, "line longer than 1 MiB")
	}
	return nil
}

// stripComment drops a " #..." comment outside quotes; an unclosed quote is
// an error since multi-line quoted scalars are outside the subset.
func stripComment(s string) (string, error) {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '"' && c == '\\':
			i++
		case q != 0 && c == q:
			if q == '\'' && i+1 < len(s) && s[i+1] == '\'' {
				i++ // '' inside '...'
			} else {
				q = 0
			}
		case q != 0:
		case (c == '"' || c == '\'') && quoteMayStart(s, i):
			q = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i], nil
		}
	}
	if q != 0 {
		return "", fmt.Errorf("unterminated %c-quoted string", q)
	}
	return s, nil
}

// quoteMayStart: a quote opens a quoted scalar only where a value can start
// (line start, after "- ", ": ", or a flow "{[,"); elsewhere (it's) is text.
func quoteMayStart(s string, i int) bool {
	j := i - 1
	for j >= 0 && s[j] == ' ' {
		j--
	}
	if j < 0 {
		return true
	}
	spaced := j < i-1
	switch s[j] {
	case '{', '[', ',':
		return true
	case '-', ':', '?':
		return spaced
	}
	return false
}

// block parses the node whose first line is at p.pos with indentation ind.
func (p *yparser) block(ind int) (*ynode, error) {
	if isItem(p.lines[p.pos].text) {
		return p.seq(ind)
	}
	return p.mapping(ind)
}

func isItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

func (p *yparser) seq(ind int) (*ynode, error) {
	n := &ynode{kind: yseq, line: p.lines[p.pos].no}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == ind && isItem(p.lines[p.pos].text) {
		l := p.lines[p.pos]
		rest := strings.TrimLeft(l.text[1:], " ")
		if rest == "" { // "-" alone: the item is the deeper block below, or null
			p.pos++
			if p.pos < len(p.lines) && p.lines[p.pos].indent > ind {
				item, err := p.block(p.lines[p.pos].indent)
				if err != nil {
					return nil, err
				}
				item.line = l.no
				n.items = append(n.items, item)
			} else {
				n.items = append(n.items, &ynode{kind: yscalar, line: l.no})
			}
			continue
		}
		// "- key: v" or "- - x": the rest is a node starting at its own column.
		col := ind + len(l.text) - len(rest)
		if _, _, isKey := splitKey(rest); isKey || isItem(rest) {
			p.lines[p.pos] = yline{l.no, col, rest}
			item, err := p.block(col)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, item)
			continue
		}
		item, err := p.value(rest, l.no, col)
		if err != nil {
			return nil, err
		}
		p.pos++
		if err := p.noDeeper(ind, item); err != nil {
			return nil, err
		}
		n.items = append(n.items, item)
	}
	if p.pos < len(p.lines) && p.lines[p.pos].indent > ind {
		return nil, p.errAt(p.lines[p.pos].no, "unexpected indentation")
	}
	return n, nil
}

func (p *yparser) mapping(ind int) (*ynode, error) {
	n := &ynode{kind: ymap, line: p.lines[p.pos].no}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == ind {
		l := p.lines[p.pos]
		if isItem(l.text) {
			return nil, p.errAt(l.no, "a list item where a key was expected")
		}
		key, val, ok := splitKey(l.text)
		if !ok {
			return nil, p.errAt(l.no, fmt.Sprintf("expected \"key: value\", got %q", l.text))
		}
		for i, k := range n.keys {
			if k == key {
				return nil, p.errAt(l.no, fmt.Sprintf("duplicate key %q (first at line %d)", key, n.klines[i]))
			}
		}
		p.pos++
		var v *ynode
		var err error
		switch {
		case val != "":
			v, err = p.value(val, l.no, ind)
			if err == nil {
				err = p.noDeeper(ind, v)
			}
		case p.pos < len(p.lines) && p.lines[p.pos].indent > ind:
			v, err = p.block(p.lines[p.pos].indent)
		case p.pos < len(p.lines) && p.lines[p.pos].indent == ind && isItem(p.lines[p.pos].text):
			v, err = p.seq(ind) // "key:" then "- item" at the key's own indent
		default:
			v = &ynode{kind: yscalar, line: l.no}
		}
		if err != nil {
			return nil, err
		}
		if v.kind == ymap || v.kind == yseq {
			v.line = l.no
		}
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, v)
		n.klines = append(n.klines, l.no)
	}
	if p.pos < len(p.lines) && p.lines[p.pos].indent > ind {
		return nil, p.errAt(p.lines[p.pos].no, "unexpected indentation")
	}
	return n, nil
}

// noDeeper: after a one-line value, deeper lines belong only to a block scalar.
func (p *yparser) noDeeper(ind int, v *ynode) error {
	if v.kind == yraw {
		var b strings.Builder
		for p.pos < len(p.lines) && p.lines[p.pos].indent > ind {
			b.WriteString(p.lines[p.pos].text)
			b.WriteByte('\n')
			p.pos++
		}
		v.text = b.String()
		return nil
	}
	if p.pos < len(p.lines) && p.lines[p.pos].indent > ind {
		return p.errAt(p.lines[p.pos].no, "unexpected indentation (multi-line values are not supported)")
	}
	return nil
}

// splitKey cuts "key: value" at the first ": " (or final ":") outside quotes.
func splitKey(t string) (key, val string, ok bool) {
	var q byte
	if len(t) > 0 && (t[0] == '"' || t[0] == '\'') {
		q = t[0]
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if q != 0 {
			if i > 0 && c == q && !(q == '"' && t[i-1] == '\\') {
				q = 0
			}
			continue
		}
		if c == ':' && (i+1 == len(t) || t[i+1] == ' ') {
			k := strings.TrimSpace(t[:i])
			if uk, err := unquote(k); err == nil {
				k = uk
			} else {
				return "", "", false
			}
			return k, strings.TrimSpace(t[i+1:]), k != ""
		}
		if c == '{' || c == '[' {
			return "", "", false
		}
	}
	return "", "", false
}

// value reads a one-line value: a scalar, a flow collection or a block scalar header.
func (p *yparser) value(s string, no, ind int) (*ynode, error) {
	switch s[0] {
	case '{', '[':
		if !balanced(s) {
			return nil, p.errAt(no, "flow collection not closed on its line")
		}
		return &ynode{kind: yflow, line: no, text: s}, nil
	case '|', '>':
		return &ynode{kind: yraw, line: no}, nil
	case '&', '*', '!':
		return nil, p.errAt(no, "anchors, aliases and tags are not supported")
	}
	v, err := unquote(s)
	if err != nil {
		return nil, p.errAt(no, err.Error())
	}
	return &ynode{kind: yscalar, line: no, text: v, quoted: s[0] == '"' || s[0] == '\''}, nil
}

func balanced(s string) bool {
	depth := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '"' && c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return depth == 0 && q == 0
}

// unquote: a plain scalar as is; 'x' (a doubled quote stands for one); "x" with the common escapes.
func unquote(s string) (string, error) {
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return s, nil
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == q:
			if i != len(s)-1 {
				return "", fmt.Errorf("text after the closing %c", q)
			}
			return b.String(), nil
		case c == '\\' && q == '"':
			if i+1 >= len(s) {
				return "", fmt.Errorf("unterminated %c-quoted string", q)
			}
			i++
			r, ok := escapes[s[i]]
			if !ok {
				return "", fmt.Errorf("unsupported escape \\%c", s[i])
			}
			b.WriteByte(r)
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated %c-quoted string", q)
}

var escapes = map[byte]byte{'\\': '\\', '"': '"', '/': '/', 'n': '\n', 't': '\t', 'r': '\r', '0': 0, ' ': ' '}
