#!/usr/bin/env python3
"""Regenerate formats/golden/*.json from a real Gunicorn (see formats/README.md).

For every case below: start `gunicorn -w 1` with the case's --access-logformat (plus a
suffix that reveals the values that vary per run: time, pid, duration, body bytes, peer
port), send the case's raw request, read the line Gunicorn wrote, and store
{format, record, gunicorn} where `record` holds the request/response facts and the observed
varying values, so the Rust renderer can reproduce the line deterministically.

Cases where runicorn deliberately differs (escaping of controls and bytes >= 0x80) also
carry `runicorn`, the line runicorn must produce, and `why`.

This file is also the WSGI app under test (`capture:app`): it answers with the status,
headers and body given in the CAPTURE_RESPONSE environment variable.

Usage: python3 formats/capture.py [case-name ...]
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = "\x1f"
SUFFIX = SEP + SEP.join(["%(t)s", "%(p)s", "%(D)s", "%(B)s", "%({remote_port}e)s"])


def response_headers(spec):
    """The headers the app sends for a case's response spec."""
    body = spec.get("body", "hello world\n")
    headers = [list(h) for h in spec.get("headers", [["Content-Type", "text/plain"]])]
    if not spec.get("status", "200").startswith(("204", "304")):
        headers.append(["Content-Length", str(len(body.encode("latin-1")))])
    return headers


def app(environ, start_response):
    spec = json.loads(os.environ.get("CAPTURE_RESPONSE", "{}"))
    start_response(spec.get("status", "200 OK"), [tuple(h) for h in response_headers(spec)])
    return [spec.get("body", "hello world\n").encode("latin-1")]


DEFAULT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
ALL_LETTERS = ('h=%(h)s l=%(l)s u=%(u)s t=%(t)s r="%(r)s" m=%(m)s U=%(U)s q=%(q)s H=%(H)s s=%(s)s '
               'B=%(B)s b=%(b)s f="%(f)s" a="%(a)s" T=%(T)s M=%(M)s D=%(D)s L=%(L)s p=%(p)s')


def req(line, *headers, body=""):
    head = line + "\r\n" + "".join(h + "\r\n" for h in headers)
    return head + "\r\n" + body


CASES = [
    dict(name="default", format=DEFAULT,
         request=req("GET / HTTP/1.1", "Host: 127.0.0.1", "User-Agent: curl/7.88.1", "Accept: */*")),
    dict(name="all_letters", format=ALL_LETTERS,
         request=req("GET /a%20b/c?x=1&y=%22 HTTP/1.1", "Host: localhost",
                     "Authorization: Basic Ym9iOnNlY3JldA==", 'Referer: http://x/"y',
                     'User-Agent: UA "quoted" \\ back')),
    dict(name="conversions",
         format='%(s)5s|%(b)-7s|%(m).2s|%(T)05d|%(D)x|%(s)r|%(D)d|%(B)#x|%(M)+d|%(D)e|%(D)g|%(D).3f'
                '|%(B)o|%(B)#o|%(B)X|%(D)10d|%(D)-10d|%(T)i|%(T)u|%(D)E|%(D)G|%%|%(a)r|%(a).3s|%(h)-12s|%(q)a',
         request=req("GET /conv?k=v HTTP/1.1", "Host: h", "User-Agent: it's \"x\"")),
    dict(name="request_headers",
         format='%({x-forwarded-for}i)s|%({X-Forwarded-For}i)s|%({x-multi}i)s|%({http_x_multi}e)s'
                '|%({x-missing}i)s|%(zz)s|%({x-quote}i)s|%({HOST}i)s|%({connection}i)s',
         request=req("GET /h HTTP/1.1", "Host: example.com", "X-Forwarded-For: 1.2.3.4",
                     "X-Multi: one", "X-Multi: two", 'X-Quote: say "hi"', "Connection: keep-alive")),
    dict(name="response_headers",
         format='%({content-type}o)s|%({set-cookie}o)s|%({x-app}o)s|%({server}o)s|%({date}o)s'
                '|%({connection}o)s|%({content-length}o)s|%({X-APP}o)s',
         response=dict(headers=[["Content-Type", "text/html"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"],
                                ["X-App", 'v "1"'], ["Connection", "close"]]),
         request=req("GET /o HTTP/1.1", "Host: h")),
    dict(name="environ",
         format='%({remote_addr}e)s|%({remote_port}e)s|%({wsgi.url_scheme}e)s|%({raw_uri}e)s'
                '|%({query_string}e)s|%({path_info}e)s|%({request_method}e)s|%({server_protocol}e)s'
                '|%({server_name}e)s|%({server_port}e)s|%({http_host}e)s|%({script_name}e)s'
                '|%({content_type}e)s|%({content_length}e)s|%({http_content_type}e)s|%({REQUEST_METHOD}e)s',
         request=req("POST /e/p%41th?a=1 HTTP/1.1", "Host: example.com:8080", "Content-Type: text/plain",
                     "Content-Length: 5", body="hello")),
    dict(name="unix_socket", unix=True,
         format=DEFAULT + ' [%(h)s] %({remote_port}e)s %({server_name}e)s %({server_port}e)s',
         request=req("GET /unix HTTP/1.1", "Host: sock.example", "User-Agent: u")),
    dict(name="basic_auth_lenient", format='%(u)s|%(a)s',
         request=req("GET / HTTP/1.1", "Host: h", "Authorization: basic Y!m9iOnB3", "User-Agent: x")),
    dict(name="basic_auth_bad_padding", format='%(u)s|%(a)s',
         request=req("GET / HTTP/1.1", "Host: h", "Authorization: Basic Ym9iOnB", "User-Agent: x")),
    dict(name="bearer_auth", format='%(u)s|%({authorization}i)s',
         request=req("GET / HTTP/1.1", "Host: h", "Authorization: Bearer abc")),
    dict(name="head", format='%(m)s %(s)s %(b)s %(B)s',
         request=req("HEAD /head HTTP/1.1", "Host: h")),
    dict(name="status_204", format='%(s)s %(b)s %(B)s', response=dict(status="204 No Content", body=""),
         request=req("GET /nc HTTP/1.1", "Host: h")),
    dict(name="status_304", format='%(s)s %(b)s %(B)s', response=dict(status="304 Not Modified", body=""),
         request=req("GET /nm HTTP/1.1", "Host: h")),
    dict(name="empty_body", format='%(s)s %(b)s %(B)s', response=dict(body=""),
         request=req("GET /empty HTTP/1.1", "Host: h")),
    dict(name="status_404", format=DEFAULT, response=dict(status="404 Not Found", body="nope"),
         request=req("GET /missing HTTP/1.1", "Host: h")),
    dict(name="no_query", format='[%(q)s] [%(U)s] [%(r)s]', request=req("GET /p HTTP/1.1", "Host: h")),
    dict(name="empty_query", format='[%(q)s] [%(U)s] [%(r)s]', request=req("GET /p? HTTP/1.1", "Host: h")),
    dict(name="http10", format=DEFAULT + ' %(H)s', request=req("GET /old HTTP/1.0", "User-Agent: old")),
    dict(name="absolute_form", format='%(U)s|%(q)s|%(r)s|%({raw_uri}e)s',
         request=req("GET http://example.com/abs/x?y=1 HTTP/1.1", "Host: example.com")),
    dict(name="double_slash", format='%(U)s|%(q)s', request=req("GET //two//slashes?q=1 HTTP/1.1", "Host: h")),
    dict(name="preset_common", format='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s',
         request=req("GET /common HTTP/1.1", "Host: h")),
    dict(name="preset_timing",
         format='%({x-forwarded-for}i)s %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s %(D)s %(p)s',
         request=req("GET /t HTTP/1.1", "Host: h", "X-Forwarded-For: 203.0.113.9, 10.0.0.1", "User-Agent: t")),
    dict(name="percent_literal_and_text", format='100%% plain text %%(s)s %(s)s',
         request=req("GET / HTTP/1.1", "Host: h")),
    # Deliberate differences: runicorn escapes what Gunicorn writes raw.
    dict(name="path_newline_injection", format='%(U)s|%(r)s',
         request=req("GET /a%0Ab%1b%7f HTTP/1.1", "Host: h"),
         runicorn="/a\\x0Ab\\x1B\\x7F|GET /a%0Ab%1b%7f HTTP/1.1",
         why="U is percent-decoded: Gunicorn writes a raw newline, ESC and DEL (log injection)"),
    dict(name="non_ascii_header", format='%(a)s|%(U)s',
         request=req("GET /caf%C3%A9 HTTP/1.1", "Host: h", "User-Agent: caf\u00c3\u00a9"),
         runicorn="caf\\xC3\\xA9|/caf\\xC3\\xA9",
         why="bytes >= 0x80 are \\xHH; Gunicorn writes each latin-1-decoded byte re-encoded as UTF-8 (mojibake)"),
]


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(unix, addr):
    if unix:
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr)
    else:
        s = socket.create_connection(addr)
    return s


def run_case(case, tmp):
    unix = case.get("unix", False)
    log = os.path.join(tmp, case["name"] + ".log")
    if unix:
        addr = os.path.join(tmp, case["name"] + ".sock")
        bind = "unix:" + addr
    else:
        port = free_port()
        addr = ("127.0.0.1", port)
        bind = "127.0.0.1:%d" % port
    env = dict(os.environ, CAPTURE_RESPONSE=json.dumps(case.get("response", {})))
    proc = subprocess.Popen(
        ["gunicorn", "-w", "1", "-b", bind, "--chdir", HERE, "--access-logfile", log,
         "--error-logfile", os.path.join(tmp, case["name"] + ".err"),
         "--access-logformat", case["format"] + SUFFIX, "capture:app"],
        env=env)
    try:
        def ready():
            try:
                connect(unix, addr).close()
                return True
            except OSError:
                return False
        wait_for(ready)
        s = connect(unix, addr)
        s.sendall(case["request"].encode("latin-1"))
        s.settimeout(2)
        try:
            while s.recv(65536):
                pass
        except socket.timeout:
            pass
        s.close()
        text = wait_for(lambda: os.path.exists(log) and SEP in open(log, encoding="utf-8").read()
                        and open(log, encoding="utf-8").read())
    finally:
        proc.terminate()
        proc.wait()
    text = text[:-1] if text.endswith("\n") else text
    line, t, pid, dur, sent, rport = text.rsplit(SEP, 5)
    return line, t, int(pid[1:-1]), int(dur), None if sent == "None" else int(sent), rport


def parse_request(raw):
    head, _, _ = raw.partition("\r\n\r\n")
    lines = head.split("\r\n")
    method, target, version = lines[0].split(" ")
    headers = [[k, v.strip()] for k, v in (l.split(":", 1) for l in lines[1:])]
    return method, target, version, headers


def main(names):
    out_dir = os.path.join(HERE, "golden")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if names and case["name"] not in names:
                continue
            line, t, pid, dur, sent, rport = run_case(case, tmp)
            method, target, version, headers = parse_request(case["request"])
            resp = case.get("response", {})
            status = int(resp.get("status", "200").split()[0])
            host = next((v for k, v in headers if k.lower() == "host"), None)
            if case.get("unix"):
                server_name, server_port = (host.split(":") + ["80"])[:2] if host else ("", "")
            else:
                server_name, server_port = "127.0.0.1", "<port>"
            record = {
                "peer": None if case.get("unix") else "127.0.0.1:" + rport,
                "method": method, "target": target, "version": version,
                "request_headers": headers,
                "status": status,
                "response_headers": response_headers(resp),
                "body_bytes": sent,
                "duration_us": dur,
                "url_scheme": "http",
                "server_name": server_name,
                "server_port": server_port,
                "time": t,
                "pid": pid,
            }
            # The bound port differs per run; keep it out of the expected text.
            if server_port == "<port>":
                port = line.split("|")[9] if case["name"] == "environ" else None
                record["server_port"] = port or "8000"
            doc = {"format": case["format"], "record": record, "gunicorn": line}
            if "runicorn" in case:
                doc["runicorn"] = case["runicorn"]
                doc["why"] = case["why"]
            with open(os.path.join(out_dir, case["name"] + ".json"), "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1, ensure_ascii=True)
                f.write("\n")
            print("%-26s %r" % (case["name"], line))


if __name__ == "__main__":
    main(sys.argv[1:])
