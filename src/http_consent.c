/*
 * http_consent.c — consent and opt-out routes (issue 17): POST and GET
 * /v1/consents, GET /v1/subjects/optout.
 *
 * Same pattern as http_admin.c: parse, call the module (consent.c), answer
 * once. The source of a record and the actor of every audit entry is the
 * token's name. Bodies and queries carry identifiers (emails, phone
 * numbers, conversation ids): they never reach a log line.
 */
#include "http_internal.h"
#include "consent.h"
#include "ingest.h"
#include "tenant.h"

#include <microhttpd.h>
#include <string.h>

static const char *arg(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *const target_keys[] = { "email", "phone", "conversation_id" };
_Static_assert(CONSENT_EMAIL == 0 && CONSENT_PHONE == 1 && CONSENT_CONVERSATION == 2,
               "target_keys order");

/* Exactly one of ?email=, ?phone= (and ?conversation_id= when `conv`), and
 * ?tenant=, into t. */
static int query_target(struct request *rq, bool conv, struct consent_target *t, struct rd_error *e)
{
	int n = 0;
	for (size_t i = 0; i < (conv ? 3u : 2u); i++) {
		const char *v = arg(rq, target_keys[i]);
		if (v) {
			t->kind = (enum consent_target_kind)i;
			t->value = v;
			n++;
		}
	}
	if (n != 1) {
		rd_error_set(e, RD_E_INVALID_QUERY, conv ? "give exactly one of ?email=, ?phone= or"
		              " ?conversation_id=" : "give exactly one of ?email= or ?phone=");
		return -1;
	}
	t->tenant = http_query_tenant(rq, e);
	return t->tenant ? 0 : -1;
}

/* {"email" | "phone" | "conversation_id", "kind", "state", "method"?,
 * "ts"?, "tenant"?} */
static int consent_body(struct request *rq, json_t *root, struct consent_target *t,
                        struct consent_in *c, struct rd_error *e)
{
	const char *k;
	json_t *v;
	int n = 0;
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "body must be an object");
		return -1;
	}
	json_t *decision = json_object();
	if (!decision) {
		rd_error_set(e, RD_E_INTERNAL, "out of memory");
		return -1;
	}
	int rc = -1;
	json_object_foreach(root, k, v) {
		bool target = false;
		for (size_t i = 0; i < RD_ARRAY_LEN(target_keys); i++) {
			if (strcmp(k, target_keys[i]))
				continue;
			target = true;
			n++;
			t->kind = (enum consent_target_kind)i;
			t->value = json_string_value(v);
		}
		if (target && !json_is_string(v)) {
			rd_error_set(e, RD_E_INVALID_FIELD, "%s must be a string", k);
			goto done;
		}
		if (!target && strcmp(k, "tenant") && strcmp(k, "kind") && strcmp(k, "state") &&
		    strcmp(k, "method") && strcmp(k, "ts")) {
			rd_error_set(e, RD_E_UNKNOWN_FIELD, "unknown field (allowed: email, phone or"
			              " conversation_id, kind, state, method, ts, tenant)");
			goto done;
		}
		if (!target && strcmp(k, "tenant") && json_object_set(decision, k, v)) {
			rd_error_set(e, RD_E_INTERNAL, "out of memory");
			goto done;
		}
	}
	if (n != 1) {
		rd_error_set(e, RD_E_MISSING_FIELD, "give exactly one of email, phone, conversation_id");
		goto done;
	}
	json_t *ten = json_object_get(root, "tenant");
	if (ten && !json_is_string(ten)) {
		rd_error_set(e, RD_E_INVALID_FIELD, "tenant must be a string");
		goto done;
	}
	if (consent_in_json(decision, "body", c, e))
		goto done;
	t->tenant = tenant_resolve(http_token_tenant(rq), json_string_value(ten), NULL, RD_E_INVALID_FIELD, e);
	rc = t->tenant ? 0 : -1;
done:
	/* c's strings borrow from root's values, which decision only shared. */
	json_decref(decision);
	return rc;
}

void http_post_consent(struct request *rq)
{
	struct rd_error e;
	struct consent_target t;
	struct consent_in c;
	struct consent_result r;
	json_t *root = ingest_parse_body(rq->body.data, rq->body.len, &e);
	if (!root || consent_body(rq, root, &t, &c, &e) ||
	    consent_add(rq->srv->app, &t, &c, rq->token_name, &r, &e)) {
		http_reply_error(rq, &e);
		json_decref(root);
		return;
	}
	/* Before root goes: c.kind borrows from it. */
	json_t *o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)r.id, "kind", c.kind, "state",
	                      consent_state_name(c.state));
	json_decref(root);
	if (o && (r.removed || r.kept))
		json_object_set_new(o, "erased", json_pack("{s:I, s:I}", "removed", (json_int_t)r.removed,
		                                           "kept", (json_int_t)r.kept));
	snprintf(rq->ids_note, sizeof rq->ids_note, " consent=%lld", (long long)r.id);
	http_reply_json(rq, 201, o);
	json_decref(o);
}

void http_get_consents(struct request *rq)
{
	struct rd_error e;
	struct consent_target t;
	json_t *out = NULL;
	if (query_target(rq, true, &t, &e) || consent_list(rq->srv->app, &t, rq->token_name, &out, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	http_reply_json(rq, 200, out);
	json_decref(out);
}

void http_get_optout(struct request *rq)
{
	struct rd_error e;
	struct consent_target t;
	bool opted_out;
	int64_t since;
	char ts[32];
	if (query_target(rq, false, &t, &e) ||
	    consent_optout(rq->srv->app, &t, &opted_out, &since, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	util_format_ts(since, ts);
	json_t *o = json_pack("{s:b, s:s?, s:s}", "opted_out", opted_out, "since", since ? ts : NULL,
	                      "tenant", t.tenant);
	http_reply_json(rq, 200, o);
	json_decref(o);
}
