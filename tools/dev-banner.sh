#!/bin/sh
# Printed by `make run`: how to talk to the development daemon.
cat <<'TXT'
-------------------------------------------------------------------------------
redactd development daemon on http://127.0.0.1:8080 (config/redactd.conf)
  key and database in dev/ (git-ignored); Ctrl-C stops it.
Development tokens (config/redactd.conf stores only their SHA-256):
  dev-ingest-token  scope ingest      (POST /v1/messages, /v1/redact)
  dev-read-token    scope read        (GET /v1/conversations/{id})
  dev-admin-token   scopes ingest,read,admin
Try:
  curl -s -H 'Authorization: Bearer dev-ingest-token' -H 'Content-Type: application/json' \
       -d '{"conversation_id":"demo-1","text":"I am jane@example.com, +44 7700 900123"}' \
       http://127.0.0.1:8080/v1/messages
  curl -s -H 'Authorization: Bearer dev-read-token' http://127.0.0.1:8080/v1/conversations/demo-1
-------------------------------------------------------------------------------
TXT
