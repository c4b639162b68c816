#!/usr/bin/env python3
"""forward_target.py — a real HTTP bot on loopback for tests/e2e/test_forward.sh.

It records every request it gets (one JSON line per request in --log: path,
headers, body, and whether the provider's signature verifies for the URL and
body *it* received) and answers as a bot would:

  /twilio      TwiML with a <Message> (200, text/xml, X-Bot: tap)
  /whatsapp    200 "EVENT_RECEIVED" (Meta's bots answer nothing inline)
  /cx          a Dialogflow CX WebhookResponse with two text messages
  /slow        waits --slow seconds, then answers like /twilio
  /error       500 with a body of its own

With --cert/--key it serves HTTPS. Usage:
  forward_target.py --port P --log FILE --twilio-token T --meta-secret S [--cert C --key K]
"""
import argparse
import base64
import hashlib
import hmac
import json
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks! We will write to '
         'bot.reply@example.com &amp; call +44 7700 900999.</Message></Response>')
CX = {"fulfillmentResponse": {"messages": [
    {"text": {"text": ["Your order ships to 10 Downing Street, London SW1A 2AA."]}},
    {"text": {"text": ["Questions? Mail help.desk@example.com"]}}]}}


def twilio_ok(url, body, sig):
    params = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
    s = url + "".join(k + v for k, v in sorted(params))
    want = base64.b64encode(hmac.new(ARGS.twilio_token.encode(), s.encode(), hashlib.sha1).digest())
    return sig is not None and hmac.compare_digest(want.decode(), sig)


def meta_ok(body, sig):
    want = "sha256=" + hmac.new(ARGS.meta_secret.encode(), body, hashlib.sha256).hexdigest()
    return sig is not None and hmac.compare_digest(want, sig)


class Bot(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: redactd reuses its connection

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body, extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        scheme = "https" if ARGS.cert else "http"
        url = f"{scheme}://{self.headers.get('Host')}{self.path}"
        path = self.path.split("?")[0]
        rec = {"path": path, "body": body.decode("utf-8", "replace"),
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "twilio_sig_ok": twilio_ok(url, body, self.headers.get("X-Twilio-Signature")),
               "meta_sig_ok": meta_ok(body, self.headers.get("X-Hub-Signature-256"))}
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if path == "/slow":
            time.sleep(ARGS.slow)
        if path in ("/twilio", "/slow"):
            self.answer(200, "text/xml", TWIML, [("X-Bot", "tap")])
        elif path == "/whatsapp":
            self.answer(200, "text/plain", "EVENT_RECEIVED")
        elif path == "/cx":
            self.answer(200, "application/json", json.dumps(CX))
        elif path == "/error":
            self.answer(500, "text/plain", "bot broke")
        else:
            self.answer(404, "text/plain", "no such bot")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--twilio-token", default="")
    p.add_argument("--meta-secret", default="")
    p.add_argument("--slow", type=float, default=3.0)
    p.add_argument("--cert")
    p.add_argument("--key")
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Bot)
    srv.daemon_threads = True
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
