/*
 * http_admin.c — admin routes: subjects (export, erasure), conversation
 * erasure, legal holds, restrictions of processing, tenant closures; /readyz.
 *
 * Same pattern as the handlers in http.c: parse, call the module (subject.c),
 * answer once. The actor of every audit entry is the token's name. Queries
 * carry identifiers (emails, phone numbers): they never reach a log line
 * (the request log shows the route pattern only).
 */
#include "http_internal.h"
#include "holds.h"
#include "rectify.h"
#include "ingest.h"
#include "subject.h"
#include "tenant.h"
#include "tenant_close.h"
#include "util.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *arg(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ?email= or ?phone= (exactly one) and ?tenant= into q. */
static int subject_args(struct request *rq, struct subject_query *q, struct rd_error *e)
{
	const char *email = arg(rq, "email"), *phone = arg(rq, "phone");
	if (!!email == !!phone) {
		rd_error_set(e, RD_E_INVALID_QUERY, "give exactly one of ?email= or ?phone=");
		return -1;
	}
	q->kind = email ? SQ_EMAIL : SQ_PHONE;
	q->value = email ? email : phone;
	q->tenant = http_query_tenant(rq, e);
	return q->tenant ? 0 : -1;
}

static bool wants_csv(struct request *rq)
{
	const char *acc = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	return acc && strstr(acc, "text/csv") != NULL;
}

static void reply_csv(struct request *rq, const json_t *export)
{
	struct buf b = { 0 };
	if (subject_export_csv(export, &b))
		http_fail(rq, RD_E_INTERNAL, "out of memory");
	else
		http_reply_text(rq, 200, "text/csv; charset=utf-8", b.data ? b.data : "", b.len, NULL, NULL);
	buf_free(&b);
}

void http_get_subject(struct request *rq)
{
	struct subject_query q;
	struct rd_error e;
	json_t *out = NULL;
	if (subject_args(rq, &q, &e) || subject_export(rq->srv->app, &q, rq->token_name, &out, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	if (wants_csv(rq))
		reply_csv(rq, out);
	else
		http_reply_json(rq, 200, out);
	json_decref(out);
}

static void erase(struct request *rq, const struct subject_query *q, bool not_found_if_none)
{
	struct subject_erase_result r;
	struct rd_error e;
	if (subject_erase(rq->srv->app, q, rq->token_name, &r, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	if (not_found_if_none && r.removed == 0 && r.kept == 0) {
		http_fail(rq, RD_E_NOT_FOUND, "no messages are held for this conversation");
		return;
	}
	json_t *o = subject_erase_json(&r);
	http_reply_json(rq, 200, o);
	json_decref(o);
}

void http_delete_subject(struct request *rq)
{
	struct subject_query q;
	struct rd_error e;
	if (subject_args(rq, &q, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	erase(rq, &q, false);
}

void http_delete_conversation(struct request *rq)
{
	struct rd_error e;
	struct subject_query q = { .kind = SQ_CONVERSATION, .value = rq->id };
	if (!(q.tenant = http_query_tenant(rq, &e))) {
		http_reply_error(rq, &e);
		return;
	}
	erase(rq, &q, true);
}

/* {"conversation_id" | "email" | "phone", "reason", "tenant"?} */
static int hold_body(struct request *rq, json_t *root, struct subject_query *q, const char **reason,
                     struct rd_error *e)
{
	static const char *const keys[] = { "email", "phone", "conversation_id" };
	const char *k, *bound = http_token_tenant(rq);
	json_t *v;
	int n = 0;
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "body must be an object");
		return -1;
	}
	json_object_foreach(root, k, v) {
		bool known = !strcmp(k, "reason") || !strcmp(k, "tenant");
		for (size_t i = 0; i < RD_ARRAY_LEN(keys); i++) {
			if (strcmp(k, keys[i]))
				continue;
			known = true;
			n++;
			q->kind = (enum subject_query_kind)i;
			q->value = json_string_value(v);
		}
		if (!known || !json_is_string(v)) {
			rd_error_set(e, known ? RD_E_INVALID_FIELD : RD_E_UNKNOWN_FIELD,
			              "fields are conversation_id, email or phone, reason, tenant (strings)");
			return -1;
		}
	}
	if (n != 1) {
		rd_error_set(e, RD_E_MISSING_FIELD, "give exactly one of conversation_id, email, phone");
		return -1;
	}
	*reason = json_string_value(json_object_get(root, "reason"));
	q->tenant = tenant_resolve(bound, json_string_value(json_object_get(root, "tenant")), NULL,
	                           RD_E_INVALID_FIELD, e);
	return q->tenant ? 0 : -1;
}

/* POST /v1/holds and /v1/restrictions: 201 {"id"}. */
static void post_pin(struct request *rq, enum holds_pin kind)
{
	struct rd_error e;
	struct subject_query q;
	const char *reason;
	char id[HOLDS_ID_LEN + 1];
	json_t *root = ingest_parse_body(rq->body.data, rq->body.len, &e);
	if (!root || hold_body(rq, root, &q, &reason, &e) ||
	    subject_pin_add(rq->srv->app, kind, &q, reason, rq->token_name, id, &e)) {
		http_reply_error(rq, &e);
		json_decref(root);
		return;
	}
	json_decref(root);
	json_t *o = json_pack("{s:s}", "id", id);
	snprintf(rq->ids_note, sizeof rq->ids_note, " ids=%s", id);
	http_reply_json(rq, 201, o);
	json_decref(o);
}

static void get_pins(struct request *rq, enum holds_pin kind)
{
	struct rd_error e;
	json_t *out;
	/* An unbound token sees every tenant's holds unless it asks for one. */
	bool scoped = http_token_tenant(rq) || arg(rq, "tenant");
	const char *tenant = scoped ? http_query_tenant(rq, &e) : NULL;
	if ((scoped && !tenant) || holds_pin_list(rq->srv->app, kind, tenant, rq->token_name, &out, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	http_reply_json(rq, 200, out);
	json_decref(out);
}

static void delete_pin(struct request *rq, enum holds_pin kind)
{
	struct rd_error e;
	if (holds_pin_remove(rq->srv->app, kind, http_token_tenant(rq), rq->id, rq->token_name, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	json_t *o = json_pack("{s:i}", "removed", 1);
	http_reply_json(rq, 200, o);
	json_decref(o);
}

/* ---- tenant closures -------------------------------------------------------- */

/* NAME of ".../NAME/close" (rq->id) into name; a token bound to a tenant
 * may act for its own only. */
static const char *closure_tenant(struct request *rq, char name[RD_MAX_NAME_LEN + 1], struct rd_error *e)
{
	const char *slash = strchr(rq->id, '/');
	size_t n = slash ? (size_t)(slash - rq->id) : 0;
	if (!slash || strcmp(slash, "/close") != 0 || n == 0 || n > RD_MAX_NAME_LEN) {
		rd_error_set(e, RD_E_NOT_FOUND, "no such route: the path is /v1/tenants/{name}/close");
		return NULL;
	}
	memcpy(name, rq->id, n);
	name[n] = '\0';
	return tenant_resolve(http_token_tenant(rq), name, NULL, RD_E_INVALID_PATH, e);
}

/* {"after": "30d"} (a duration, or whole seconds). */
static int after_field(json_t *root, int64_t *after_s, struct rd_error *e)
{
	json_t *v = json_is_object(root) ? json_object_get(root, "after") : NULL;
	const char *k;
	json_t *x;
	if (!json_is_object(root)) {
		rd_error_set(e, RD_E_INVALID_BODY, "body must be an object {\"after\": \"30d\"}");
		return -1;
	}
	json_object_foreach(root, k, x) {
		if (strcmp(k, "after")) {
			rd_error_set(e, RD_E_UNKNOWN_FIELD, "the only field is after");
			return -1;
		}
	}
	if (!v) {
		rd_error_set(e, RD_E_MISSING_FIELD, "after is required: a duration such as 30d, or 0");
		return -1;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*after_s = (int64_t)json_integer_value(v);
		return 0;
	}
	int rc = json_is_string(v) ? util_parse_duration(json_string_value(v), after_s) : -1;
	if (rc == -2)
		rd_error_set(e, RD_E_INVALID_FIELD, "after: a bare m is ambiguous: write min for minutes or mo for months");
	else if (rc)
		rd_error_set(e, RD_E_INVALID_FIELD, "after must be a duration (s, min, h, d, w, mo, y) or seconds");
	return rc ? -1 : 0;
}

void http_post_tenant_close(struct request *rq)
{
	struct rd_error e;
	char name[RD_MAX_NAME_LEN + 1];
	int64_t after_s = 0;
	json_t *out = NULL, *root = NULL;
	const char *tenant = closure_tenant(rq, name, &e);
	if (!tenant || !(root = ingest_parse_body(rq->body.data, rq->body.len, &e)) ||
	    after_field(root, &after_s, &e) ||
	    tenant_close_schedule(rq->srv->app, tenant, after_s, rq->token_name, &out, &e)) {
		http_reply_error(rq, &e);
		json_decref(root);
		return;
	}
	json_decref(root);
	http_reply_json(rq, 202, out);
	json_decref(out);
}

void http_delete_tenant_close(struct request *rq)
{
	struct rd_error e;
	char name[RD_MAX_NAME_LEN + 1];
	const char *tenant = closure_tenant(rq, name, &e);
	if (!tenant || tenant_close_cancel(rq->srv->app, tenant, rq->token_name, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	json_t *o = json_pack("{s:s, s:s}", "tenant", tenant, "closure", "cancelled");
	http_reply_json(rq, 200, o);
	json_decref(o);
}

/* A token bound to a tenant sees its own alone. */
static int only_bound(json_t *out, const char *bound)
{
	json_t *arr = json_object_get(out, "tenants"), *keep = json_array(), *t;
	size_t i;
	if (!keep)
		return -1;
	json_array_foreach(arr, i, t)
		if (!strcmp(json_string_value(json_object_get(t, "name")), bound) && json_array_append(keep, t)) {
			json_decref(keep);
			return -1;
		}
	return json_object_set_new(out, "tenants", keep);
}

void http_get_tenants(struct request *rq)
{
	struct rd_error e;
	json_t *out;
	if (tenant_close_list(rq->srv->app, &out, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	if (http_token_tenant(rq) && only_bound(out, http_token_tenant(rq))) {
		json_decref(out);
		http_fail(rq, RD_E_INTERNAL, "out of memory");
		return;
	}
	http_reply_json(rq, 200, out);
	json_decref(out);
}

void http_patch_message(struct request *rq)
{
	struct rd_error e;
	json_t *reply = NULL;
	const char *tenant = http_query_tenant(rq, &e);
	if (!tenant || rectify_message(rq->srv->app, rq->snap, tenant, rq->id, rq->body.data,
	                               rq->body.len, rq->token_name, &reply, &e)) {
		http_reply_error(rq, &e);
		return;
	}
	snprintf(rq->ids_note, sizeof rq->ids_note, " ids=%s", rq->id);
	http_reply_json(rq, 200, reply);
	json_decref(reply);
}

void http_post_hold(struct request *rq) { post_pin(rq, HOLDS_PIN_HOLD); }
void http_get_holds(struct request *rq) { get_pins(rq, HOLDS_PIN_HOLD); }
void http_delete_hold(struct request *rq) { delete_pin(rq, HOLDS_PIN_HOLD); }
void http_post_restriction(struct request *rq) { post_pin(rq, HOLDS_PIN_RESTRICTION); }
void http_get_restrictions(struct request *rq) { get_pins(rq, HOLDS_PIN_RESTRICTION); }
void http_delete_restriction(struct request *rq) { delete_pin(rq, HOLDS_PIN_RESTRICTION); }

/* ---- readiness ------------------------------------------------------------ */

/*
 * /healthz says the process is alive; /readyz whether it takes writes now,
 * for a load balancer to route ingest elsewhere: 503 once the store refuses
 * writes after a failed fdatasync (RD_E_STORAGE_FAILED: restart after
 * fixing the disk), while the last write found the disk full (storage_full, until a
 * write succeeds), or while its queue is 90 % full, when batches start to get
 * RD_E_BUSY 503s (retry shortly).
 */
void http_readyz(struct request *rq)
{
	static const char ready[] = "{\"status\":\"ready\"}";
	static const char failed[] = "{\"status\":\"not_ready\",\"reason\":\"storage_failed\"}";
	static const char full[] = "{\"status\":\"not_ready\",\"reason\":\"queue_full\"}";
	static const char disk[] = "{\"status\":\"not_ready\",\"reason\":\"storage_full\"}";
	const struct app *app = rq->srv->app;
	struct store_counters sc;
	store_get_counters(app->store, &sc);
	if (!store_writable(app->store))
		http_reply_text(rq, 503, "application/json", failed, sizeof failed - 1, NULL, NULL);
	else if (store_disk_full(app->store))
		http_reply_text(rq, 503, "application/json", disk, sizeof disk - 1, "Retry-After", "10");
	else if (sc.queued * 10 >= (uint64_t)rq->snap->cfg->queue_size * 9)
		http_reply_text(rq, 503, "application/json", full, sizeof full - 1, "Retry-After", "1");
	else
		http_reply_text(rq, 200, "application/json", ready, sizeof ready - 1, NULL, NULL);
}
