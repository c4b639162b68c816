#!/usr/bin/env python3
"""Slow clients against the daemon, for test_slowloris.sh. Prints JSON.

  slowloris.py PORT flood N_PER_ADDR SECONDS
      N_PER_ADDR sockets from each of 127.0.0.2..9 trickle header bytes
      (one every 0.5 s) while 127.0.0.1 probes /healthz every 0.2 s.
      Reports how many slow sockets were still open after 1 s and at the
      end, and each probe's status and latency.
  slowloris.py PORT header
      one socket trickling a header block: seconds until the server cut it.
  slowloris.py PORT body TOKEN
      full headers, then a body at 20 bytes/s: seconds until cut.
  slowloris.py PORT steady-body TOKEN
      a 6 KB body at 2 KB/s (above the minimum rate): the status.
  slowloris.py PORT keepalive WAIT
      two requests on one connection, WAIT seconds apart: both statuses.
  slowloris.py PORT keepalive-trickle
      one request, then the next one's header block trickled on the same
      connection: seconds from its first byte until cut.
"""
import http.client
import json
import socket
import sys
import time

HOST = "127.0.0.1"


def slow_socket(port, source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(2)
    s.connect((HOST, port))
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
    s.setblocking(False)
    return s


def is_closed(s):
    try:
        data = s.recv(4096)
        return data == b"" or data.startswith(b"HTTP/")
    except BlockingIOError:
        return False
    except OSError:
        return True


def probe(port):
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection(HOST, port, timeout=2)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
    except OSError:
        status = 0
    return status, (time.monotonic() - t) * 1000


def trickle(socks, open_flags):
    for i, s in enumerate(socks):
        if open_flags[i]:
            try:
                s.send(b"X")
            except OSError:
                open_flags[i] = False


def flood(port, per_addr, seconds):
    socks = []
    for a in range(2, 10):
        for _ in range(per_addr):
            try:
                socks.append(slow_socket(port, "127.0.0.%d" % a))
            except OSError:
                pass
    opened = len(socks)
    alive = [True] * opened
    probes, alive_1s = [], None
    start = time.monotonic()
    next_trickle = start
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if now >= next_trickle:
            trickle(socks, alive)
            next_trickle = now + 0.5
        for i, s in enumerate(socks):
            if alive[i] and is_closed(s):
                alive[i] = False
        if alive_1s is None and now - start >= 1.0:
            alive_1s = sum(alive)
        probes.append(probe(port))
        time.sleep(0.2)
    for s in socks:
        s.close()
    return {"opened": opened, "alive_after_1s": alive_1s, "alive_at_end": sum(alive),
            "probes": len(probes), "probes_ok": sum(1 for p in probes if p[0] == 200),
            "probe_max_ms": round(max(p[1] for p in probes), 1)}


def wait_cut(s, limit, feed):
    """Calls feed(s) every 0.05 s until the server ends the stream."""
    start = time.monotonic()
    s.setblocking(False)
    while time.monotonic() - start < limit:
        if is_closed(s):
            return round(time.monotonic() - start, 2)
        try:
            feed(s)
        except OSError:
            return round(time.monotonic() - start, 2)
        time.sleep(0.05)
    return None


def header(port):
    return {"cut_after_s": wait_cut(slow_socket(port, HOST), 15, trickle_feed())}


def body_request(port, token, length):
    s = socket.create_connection((HOST, port), timeout=2)
    s.sendall(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (token, length)).encode())
    return s


def body(port, token):
    s = body_request(port, token, 60000)   # under max_body (64k)
    return {"cut_after_s": wait_cut(s, 15, lambda sock: sock.send(b" "))}


def steady_body(port, token):
    doc = b'{"conversation_id":"steady","text":"hello"}'
    payload = b" " * (6000 - len(doc)) + doc
    s = body_request(port, token, len(payload))
    for i in range(0, len(payload), 200):   # 200 bytes every 0.1 s: 2 KB/s
        s.sendall(payload[i:i + 200])
        time.sleep(0.1)
    s.settimeout(5)
    resp = http.client.HTTPResponse(s)
    resp.begin()
    return {"status": resp.status}


def keepalive(port, wait):
    c = http.client.HTTPConnection(HOST, port, timeout=5)
    statuses = []
    for i in range(2):
        if i:
            time.sleep(wait)
        try:
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
        except OSError:
            statuses.append(0)
    return {"statuses": statuses}


def trickle_feed():
    state = {"n": 0}

    def feed(sock):   # a byte every 0.25 s, never the end of the headers
        state["n"] += 1
        if state["n"] % 5 == 0:
            sock.send(b"X")
    return feed


def keepalive_trickle(port):
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        data += s.recv(4096)
    time.sleep(1)   # idle a while first: that is not part of the deadline
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return {"first": int(data.split(b" ")[1]), "cut_after_s": wait_cut(s, 15, trickle_feed())}


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    if mode == "flood":
        out = flood(port, int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "header":
        out = header(port)
    elif mode == "body":
        out = body(port, sys.argv[3])
    elif mode == "keepalive-trickle":
        out = keepalive_trickle(port)
    elif mode == "steady-body":
        out = steady_body(port, sys.argv[3])
    else:
        out = keepalive(port, float(sys.argv[3]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
