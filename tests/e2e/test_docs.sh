#!/usr/bin/env bash
# The documentation against the code (issue 12): the man pages lint clean and
# name every command and option the code has (tests/unit/test_config.c checks
# the config keys); docs/openapi.json has exactly the routes of src/http.c's
# table, with their scopes, is structurally sound, and its required reply
# fields are what the running daemon sends.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MAN8=$ROOT/man/redactd.8 MAN5=$ROOT/man/redactd.conf.5 MAN7=$ROOT/man/redactd-api.7
API=$ROOT/docs/openapi.json

fail() { FAILED=$((FAILED + 1)); echo "not ok - $1"; }
has_line() { grep -qE -- "$2" "$1"; }   # has_line FILE ERE
ere() { printf '%s' "$1" | sed 's/[][{}.?*+()|^$\\]/\\&/g'; }   # ere TEXT: TEXT as a literal ERE

# ---- man pages lint clean --------------------------------------------------
for f in "$MAN8" "$MAN5" "$MAN7"; do
	check "$(basename "$f") exists" test -s "$f"
done
if command -v mandoc >/dev/null 2>&1; then
	for f in "$MAN8" "$MAN5" "$MAN7"; do
		out=$(mandoc -Tlint -Wwarning "$f" 2>&1); rc=$?
		check_eq "mandoc -Tlint -Wwarning $(basename "$f") prints nothing" "$rc:$out" "0:"
	done
else
	fail "mandoc is not installed: run 'make deps' (as root) to install it, then lint the man pages"
fi

# ---- every command and option in redactd(8) --------------------------------
# "  serve          run the daemon ..." under "commands:" in redactd --help.
CMDS=$("$BIN" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
check "redactd --help lists commands" test -n "$CMDS"
for c in $CMDS; do
	check "redactd.8 documents command '$c'" has_line "$MAN8" "^\.It Cm $c( |$)"
	help=$("$BIN" "$c" --help 2>&1)
	# Verbs from the usage lines: "redactd hold add (...", "redactd key rotate --new-key".
	for v in $(printf '%s\n' "$help" | sed -n "s/^ *\(usage: \)\{0,1\}redactd $c \([a-z][a-z]*\)\( .*\)\{0,1\}$/\2/p" | sort -u); do
		check "redactd.8 documents '$c $v'" has_line "$MAN8" "^\.It Cm $c $v( |$)"
	done
	for o in $(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		check "redactd.8 documents $c $o" grep -qF -- "Fl \\${o#-}" "$MAN8"
	done
done
check "redactd.8 documents --version" grep -qF -- 'Fl \-version' "$MAN8"
for s in SIGHUP SIGTERM; do check "redactd.8 documents $s" has_line "$MAN8" "^\.It Dv $s"; done
for e in CREDENTIALS_DIRECTORY NOTIFY_SOCKET; do check "redactd.8 documents \$$e" has_line "$MAN8" "^\.It Ev $e"; done
for g in $(grep -ohE 'getenv\("[A-Z_]+"\)' "$ROOT"/src/*.c | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
	check "redactd.8 documents the variable $g the code reads" has_line "$MAN8" "^\.It Ev $g"
done
check "redactd.8 has EXIT STATUS" has_line "$MAN8" '^\.Sh EXIT STATUS'

# ---- redactd.conf(5) ---------------------------------------------------------
# Its sections, keys and defaults, the sample config and the restart-only
# list in redactd(8) are checked against src/config.c's tables by
# tests/unit/test_config.c, which reads the tables themselves.
for sc in ingest read admin metrics; do
	check "redactd.conf.5 documents scope '$sc'" grep -qE "^\.Cm $sc$" "$MAN5"
done

# ---- routes: src/http.c's table <-> docs/openapi.json ----------------------
# Each entry: { "METHOD", "/prefix", has_id, SCOPES, json_body, handler, "/pattern" }
ENTRIES=$(sed -n '/^static const struct route routes\[\] = {/,/^};/p' "$ROOT/src/http.c" | sed 's|/\*.*\*/||' |
          tr '\n\t' '  ' | grep -oE '\{ "[A-Z]+", "[^"]*",([^{}"]|"[^"]*")*\}')
CODE_ROUTES=$(printf '%s\n' "$ENTRIES" | sed -E 's/^\{ "([A-Z]+)", .*"([^"]+)" \}$/\1 \2/' | sort -u)
check "routes extracted from src/http.c" test "$(printf '%s\n' "$CODE_ROUTES" | grep -c .)" -ge 10
check "docs/openapi.json is JSON" jq -e . "$API"
DOC_ROUTES=$(jq -r '.paths | to_entries[] | .key as $p | .value | keys[]
                    | select(IN("get","put","post","delete","patch","head","options","trace"))
                    | "\(ascii_upcase) \($p)"' "$API" 2>/dev/null | sort -u)
while read -r m p; do
	check "openapi.json documents $m $p" bash -c 'printf "%s\n" "$1" | grep -qxF "$2"' _ "$DOC_ROUTES" "$m $p"
	check "redactd-api.7 documents $m $p" has_line "$MAN7" "^\.Ss $m $(ere "$p")"
done <<< "$CODE_ROUTES"
EXTRA=$(comm -13 <(printf '%s\n' "$CODE_ROUTES") <(printf '%s\n' "$DOC_ROUTES") | tr '\n' ';')
check_eq "openapi.json has no route the code lacks" "$EXTRA" ""
# Scopes: the route's SCOPE_* flags are the operation's bearer scopes.
while read -r entry; do
	m=$(printf '%s' "$entry" | sed -E 's/^\{ "([A-Z]+)".*/\1/')
	p=$(printf '%s' "$entry" | sed -E 's/.*"([^"]+)" \}$/\1/')
	want=$(printf '%s' "$entry" | awk -F', ' '{print $4}' | grep -oE 'SCOPE_[A-Z]+' | sed 's/SCOPE_//' |
	       tr 'A-Z' 'a-z' | sort | paste -sd, -)
	got=$(jq -r --arg p "$p" --arg m "$(printf '%s' "$m" | tr 'A-Z' 'a-z')" \
	      '[.paths[$p][$m].security[]? | .bearerAuth // empty | .[]] | sort | join(",")' "$API")
	check_eq "openapi.json scopes of $m $p match the code" "$got" "$want"
done <<< "$ENTRIES"

# ---- openapi.json is structurally sound --------------------------------------
check_eq "openapi is 3.1.x" "$(jq -r '.openapi | test("^3\\.1\\.[0-9]+$")' "$API")" true
check_eq "every operation has responses" \
	"$(jq -r '[.paths[][] | objects | select(has("responses") | not)] | length' "$API")" 0
check_eq "every operation has at least one response" \
	"$(jq -r '[.paths[][] | objects | select(has("responses")) | select(.responses | length == 0)] | length' "$API")" 0
check_eq "every operation has an operationId and a security requirement" \
	"$(jq -r '[.paths[][] | objects | select(has("responses")) | select((has("operationId") and has("security")) | not)] | length' "$API")" 0
BAD_REFS=$(jq -r '. as $d | [.. | objects | select(has("$ref")) | ."$ref"] | unique[]
                  | . as $r | select(($r | startswith("#/components/") | not)
                           or ($d | getpath($r | ltrimstr("#/") | split("/"))) == null)' "$API" 2>&1)
check_eq "every \$ref resolves to a component" "$BAD_REFS" ""
check "openapi.json has \$refs at all" jq -e '[.. | objects | select(has("$ref"))] | length > 10' "$API"
BAD_SEC=$(jq -r '(.components.securitySchemes | keys) as $k | [.paths[][] | objects | .security[]? | keys[]]
                 | unique | map(select(IN($k[]) | not)) | join(",")' "$API")
check_eq "every security requirement names a security scheme" "$BAD_SEC" ""
check_eq "security schemes: bearer and both webhook signatures" \
	"$(jq -r '.components.securitySchemes | [.bearerAuth.scheme, .twilioSignature.name, .metaSignature.name] | join(" ")' "$API")" \
	"bearer X-Twilio-Signature X-Hub-Signature-256"
NOT_ERR=$(jq -r '. as $root
	| def deref: if type == "object" and has("$ref") then . as $o | $root | getpath($o."$ref" | ltrimstr("#/") | split("/")) | deref else . end;
	.paths | to_entries[] | .key as $p | .value | to_entries[] | .key as $m
	| .value.responses | to_entries[] | select(.key | test("^[45]"))
	| select(($p | IN("/healthz", "/readyz")) and .key == "503" | not)   # their 503s are status objects
	| select((.value | deref | .content["application/json"].schema | (."$ref" // (.allOf[0]."$ref"))) != "#/components/schemas/Error")
	| "\($m) \($p) \(.key)"' "$API" | tr '\n' ';')
check_eq "every 4xx and 5xx reply is the error object" "$NOT_ERR" ""
check_eq "the error object is {error: {code, message}}" \
	"$(jq -c '.components.schemas.Error | [.required, .properties.error.required]' "$API")" '[["error"],["code","message"]]'
# Every error code the code can answer with: the table of enum rd_err.
ERR_CODES=$(sed -nE 's/^\s*\[RD_E_[A-Z0-9_]+\] = \{ "([a-z0-9_]+)".*/\1/p' "$ROOT/src/rd_error.c" | sort -u)
for code in $ERR_CODES; do
	check "openapi.json error codes include '$code'" jq -e --arg c "$code" '.components.schemas.Error.properties.error.properties.code.enum | index($c)' "$API"
	check "redactd-api.7 documents error code '$code'" grep -qE "Li $code( |$)" "$MAN7"
done
check "error codes extracted from the sources (20 or more)" test "$(printf '%s\n' "$ERR_CODES" | grep -c .)" -ge 20

# ---- real replies carry exactly the fields the schema requires --------------
# required_of PATH METHOD STATUS [JQ-PATH]: the schema's required list, sorted.
required_of() {
	jq -c --arg p "$1" --arg m "$2" --arg s "$3" '
		. as $root
		| def deref: if type == "object" and has("$ref") then . as $o | $root | getpath($o."$ref" | ltrimstr("#/") | split("/")) | deref else . end;
		.paths[$p][$m].responses[$s] | deref | .content["application/json"].schema | deref
		| '"${4:-.}"' | deref | .required | sort' "$API"
}
keys_of() { printf '%s' "$BODY" | jq -c "${1:-.} | keys | sort"; }

daemon_start
req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"docs-1","text":"I am jane.doe@example.com, call +44 7700 900123"}'
check_eq "POST /v1/messages answers 201" "$STATUS" 201
check_eq "201 reply has exactly the schema's required fields" "$(keys_of)" "$(required_of /v1/messages post 201)"

req POST /v1/messages "" '{"conversation_id":"docs-1","text":"x"}'
check_eq "POST /v1/messages without a token answers 401" "$STATUS" 401
check_eq "401 reply has exactly the schema's required fields" "$(keys_of)" "$(required_of /v1/messages post 401)"
check_eq "401 error object has exactly the schema's required fields" "$(keys_of .error)" \
	"$(required_of /v1/messages post 401 '.properties.error')"
check "401 carries WWW-Authenticate as documented" bash -c 'printf "%s" "$1" | grep -qi "^WWW-Authenticate: Bearer"' _ "$HEADERS"

req POST /v1/messages "$INGEST_TOKEN" '{"conversation_id":"docs-1","text":"x","colour":"red"}'
check_eq "an unknown field answers 422" "$STATUS" 422
check_eq "422 reply has exactly the schema's required fields" "$(keys_of)" "$(required_of /v1/messages post 422)"
check_eq "422 error object has exactly the schema's required fields" "$(keys_of .error)" \
	"$(required_of /v1/messages post 422 '.properties.error')"
check "422 code is one the schema lists" jq -e --arg c "$(jget .error.code)" \
	'.components.schemas.Error.properties.error.properties.code.enum | index($c)' "$API"

req GET /v1/conversations/docs-1 "$READ_TOKEN"
check_eq "GET /v1/conversations/{id} answers 200" "$STATUS" 200
check_eq "200 reply has exactly the schema's required fields" "$(keys_of)" "$(required_of '/v1/conversations/{id}' get 200)"
check_eq "each message has exactly the schema's required fields" "$(keys_of '.messages[0]')" \
	"$(required_of '/v1/conversations/{id}' get 200 '.properties.messages.items')"
check_eq "each stored finding has exactly the schema's required fields" "$(keys_of '.messages[0].findings[0]')" \
	"$(required_of '/v1/conversations/{id}' get 200 '.properties.messages.items | deref | .properties.findings.items')"
finish
