#!/usr/bin/env python3
"""make_corpus.py: writes the committed seed corpus for the fuzz targets.

Each seed is a small, hand-picked message that reaches one branch of the
parsers (accepted framing or a specific rejection). Re-run after editing:
    python3 fuzz/make_corpus.py
"""
import os

H = b"Host: example.com\r\n"

REQUEST = {
    "get11": b"GET /a?b=c HTTP/1.1\r\n" + H + b"\r\n",
    "get10": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "post_cl": b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello",
    "post_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n",
    "cl_te": b"POST / HTTP/1.1\r\n" + H
    + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    "cl_list": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 7, 7\r\nContent-Length: 8\r\n\r\n",
    "te_gzip": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
    "upgrade": b"GET /ws HTTP/1.1\r\n" + H
    + b"Connection: Upgrade\r\nUpgrade: websocket\r\nExpect: 100-continue\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "options": b"\r\nOPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "absolute": b"GET http://example.com/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H
    + b"Connection: close\r\n\r\n",
    "http2": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}

# First byte: method selector (0 GET, 1 HEAD, 2 CONNECT, 3 POST) and split.
RESPONSE = {
    "cl": b"\x00HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
    "chunked": b"\x00HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "close": b"\x00HTTP/1.0 200 OK\r\n\r\n",
    "keep_alive10": b"\x00HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
    "head": b"\x01HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
    "connect": b"\x02HTTP/1.1 200 Connection established\r\n\r\n",
    "s204": b"\x00HTTP/1.1 204 No Content\r\n\r\n",
    "s304": b"\x00HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
    "s100": b"\x03HTTP/1.1 100 Continue\r\n\r\n",
    "s101": b"\x00HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
    b"Upgrade: websocket\r\n\r\n",
    "cl_te": b"\x00HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "no_reason": b"\x00HTTP/1.1 200\r\nContent-Length: 2, 2\r\nConnection: close\r\n\r\n",
    "obs_fold": b"\x00HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\n\r\n",
}

CHUNKED = {
    "last_only": b"0\r\n\r\n",
    "one": b"5\r\nhello\r\n0\r\n\r\n",
    "several": b"3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n",
    "hex": b"A\r\n0123456789\r\nb\r\n0123456789a\r\n0\r\n\r\n",
    "extensions": b"5;name=value\r\nhello\r\n0;last;q=\"a b\"\r\n\r\n",
    "bws": b"5 ;a=b\r\nhello\r\n0\t;x\r\n\r\n",
    "trailers": b"2\r\nhi\r\n0\r\nX-Checksum: abc\r\nY:\r\n\r\n",
    "next_message": b"2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    "sixteen_digits": b"0000000000000003\r\nabc\r\n0\r\n\r\n",
    "max_size": b"7fffffffffffffff\r\nab",
    "overflow": b"8000000000000000\r\n",
    "bare_lf": b"5\nhello\n0\n\n",
    "data_crlf": b"4\r\n\r\n\0\n\r\n0\r\n\r\n",
}

# scaleprof gen --template: accepted templates (each placeholder, blocks, escapes)
# and one per rejection (harness/tests/test_gen_template.c has the same cases).
TEMPLATE = {
    "csrv": b"# csrv {services}\n\n{{#services}}\n# service {index}\n[service {name}]\n"
    b"port = {port}\nupstream = {upstream}\n{{/services}}\n",
    "nginx": b"events { worker_connections 10; }\nhttp {\n  upstream o { server {upstream_addr}; }"
    b"\n  {{#services}}\n  server { listen {listen}; set $x ${{host}; }\n  {{/services}}\n}\n",
    "admin": b"admin {admin} {admin_host} {admin_port}\npid {dir}/p {listen_host} {base_port}\n"
    b"{upstream_host}:{upstream_port}\n",
    "crlf_blocks": b"  {{#services}}  \r\na{index}\r\n{{/services}}\r\n-\n{{#services}}\n"
    b"b\n{{/services}}",
    "escape": b"{{remote_host} {{{services}} \\d{3,5} {} { x } {$ENV}\n",
    "unknown": b"ok\n  {prot}\n",
    "outside": b"x {port}\n",
    "unclosed": b"a\n{{#services}}\nb\n",
    "nested": b"{{#services}}\n  {{#services}}\n{{/services}}\n",
    "section": b"{{#peers}}\n{{/peers}}\n",
    "inline_tag": b"x {{#services}}\n{{/services}}\n",
    "nul": b"ab\x00c\n",
}


def write(target, seeds):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

write("fuzz_http_request", REQUEST)
write("fuzz_http_response", RESPONSE)
write("fuzz_http_chunked", CHUNKED)
write("fuzz_gen_template", TEMPLATE)
