#!/usr/bin/env python3
"""Captures requests signed by `curl --aws-sigv4` (an independent signer) as SigV4 vectors.

Each case becomes tests/vectors/sigv4/<case>/request.txt (the request as curl sent it, CRLF line
ends turned into LF, body kept raw) and context.json (secret, region, service, the clock to verify
at, the expected outcome). tests/unit/sigv4_test.c verifies them. Rerun to refresh; the signing
time is curl's clock, recorded as "now".
"""
import json
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
AKID = "AKIAMCPGATECURLTEST1"
SECRET = "curl/vector/secret+EXAMPLEKEY0123456789ab"
REGION = "us-east-1"
SERVICE = "bedrock-agentcore"


def capture(args, path_and_query):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = {}

    def serve():
        conn, _ = srv.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()
        got["head"], got["body"] = head, body

    t = threading.Thread(target=serve)
    t.start()
    url = "http://127.0.0.1:%d%s" % (port, path_and_query)
    cmd = ["curl", "-s", "-o", "/dev/null", "--aws-sigv4", "aws:amz:%s:%s" % (REGION, SERVICE),
           "--user", "%s:%s" % (AKID, SECRET)] + args + [url]
    subprocess.run(cmd, check=True, timeout=20)
    t.join(20)
    srv.close()
    return got["head"].replace(b"\r\n", b"\n") + b"\n\n" + got["body"]


def amz_date_epoch(raw):
    import calendar
    import time
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"x-amz-date:"):
            v = line.split(b":", 1)[1].strip().decode()
            return calendar.timegm(time.strptime(v, "%Y%m%dT%H%M%SZ"))
    raise SystemExit("no X-Amz-Date in the captured request")


def write(case, raw, expect, note):
    d = os.path.join(HERE, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "request.txt"), "wb") as f:
        f.write(raw)
    ctx = {"secret_access_key": SECRET, "region": REGION, "service": SERVICE,
           "now": amz_date_epoch(raw), "expect": expect, "note": note}
    with open(os.path.join(d, "context.json"), "w") as f:
        json.dump(ctx, f, indent=2)
        f.write("\n")


def main():
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
    raw = capture([], "/mcp")
    write("curl-get-vanilla", raw, "ok", "GET signed by curl 7.88 --aws-sigv4")
    raw = capture(["-H", "Content-Type: application/json", "--data-binary", body], "/mcp")
    write("curl-post-json", raw, "ok", "JSON-RPC POST signed by curl")
    tampered = raw.replace(b'"id":1', b'"id":2')
    write("curl-post-json-tampered-body", tampered, "mismatch", "body changed after signing")
    raw = capture(["-H", "X-Custom:  spaced   value "], "/gateways/gw-1/mcp/")
    write("curl-get-header-spaces", raw, "ok", "a signed header with runs of spaces")
    raw = capture([], "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A1%3Aruntime%2Fr/invocations")
    # curl 7.88 puts the path into the canonical request as sent (S3 style). Non-S3 services
    # encode the received path once more (%3A -> %253A), so AWS and this verifier refuse it.
    write("curl-get-encoded-path", raw, "mismatch", "curl 7.88 signs an encoded path without "
          "encoding it again; non-S3 services (and this verifier) expect %253A")
    # curl 7.88 signs the query string as sent, without sorting the parameters (later curl
    # versions sort them). AWS sorts, so AWS and this verifier both refuse the signature.
    raw = capture([], "/tools?b=2&a=1&a=0")
    write("curl-get-unsorted-query", raw, "mismatch", "curl 7.88 does not sort the query when "
          "signing; an AWS-conformant verifier refuses it")
    raw = capture([], "/tools?a=0&a=1&b=2")
    write("curl-get-sorted-query", raw, "ok", "the same query, already in canonical order")
    raw = capture([], "/mcp")
    write("curl-get-late", raw, "skew", "verified 16 minutes after signing")
    ctx_path = os.path.join(HERE, "curl-get-late", "context.json")
    with open(ctx_path) as f:
        ctx = json.load(f)
    ctx["now"] += 16 * 60
    with open(ctx_path, "w") as f:
        json.dump(ctx, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
