/*
 * test_consent.c — consent.c on a real app and database: decisions
 * validated, recorded with their audit entries and read back oldest first;
 * the table refuses updates and stores no identifier in clear; the voice
 * rule (newest decision over conversation and subjects decides, none
 * refuses only where required); tenant overrides of the policy; a
 * withdrawal erasing what it allowed but a held conversation; message
 * decisions recorded once; opt-out keywords; export and erasure of the
 * history through subject.c; a sweep keeping it.
 */
#include "app_fixture.h"
#include "consent.h"
#include "holds.h"
#include "retention.h"
#include "subject.h"
#include "webhook.h"

#include <sodium.h>

static void test_keywords(void)
{
	static const char *const out[] = { "STOP", "stop", " Stop. ", "STOPALL", "unsubscribe", "Cancel",
	                                   "END", "quit", "ARRET", "arrêt", "ARRÊT", "alto", "BAJA",
	                                   "stop!\n" };
	static const char *const in[] = { "START", "unstop", " Start " };
	static const char *const none[] = { "", "   ", "stop it", "please stop", "STOPPED", "yes",
	                                    "I want to cancel my order", "ENDS", "starting" };
	for (size_t i = 0; i < RD_ARRAY_LEN(out); i++)
		CHECK(consent_keyword(out[i], strlen(out[i])) == 1, out[i]);
	for (size_t i = 0; i < RD_ARRAY_LEN(in); i++)
		CHECK(consent_keyword(in[i], strlen(in[i])) == -1, in[i]);
	for (size_t i = 0; i < RD_ARRAY_LEN(none); i++)
		CHECK(consent_keyword(none[i], strlen(none[i])) == 0, none[i]);
}

static void test_parse(void)
{
	struct consent_in c;
	struct rd_error e;
	CHECK(consent_in_parse("transcription", "given", "ivr", NULL, "", &c, &e) == 0 &&
	      c.state == CONSENT_GIVEN && !strcmp(c.method, "ivr") && c.ts_ms == 0, "a decision parses");
	CHECK(consent_in_parse("marketing", "withdrawn", NULL, "2026-01-02T03:04:05Z", "", &c, &e) == 0 &&
	      !strcmp(c.method, "api") && c.ts_ms == 1767323045000LL, "method defaults to api; ts parsed");
	CHECK(consent_in_parse(NULL, "given", NULL, NULL, "x.", &c, &e) && e.err == RD_E_MISSING_FIELD &&
	      strstr(e.message, "x.kind"), "kind required, named with its prefix");
	CHECK(consent_in_parse("Call Recording", "given", NULL, NULL, "", &c, &e) && e.err == RD_E_INVALID_FIELD,
	      "kind limited to a-z 0-9 _");
	CHECK(consent_in_parse("a23456789012345678901234567890123", "given", NULL, NULL, "", &c, &e),
	      "kind at most 32 bytes");
	CHECK(consent_in_parse("transcription", "yes", NULL, NULL, "", &c, &e), "state is an enum");
	CHECK(consent_in_parse("transcription", "given", "my friend Bob", NULL, "", &c, &e),
	      "method is an enum: no free text");
	CHECK(consent_in_parse("transcription", "given", NULL, "yesterday", "", &c, &e), "a bad ts");
	json_t *o = json_pack("{s:s, s:s, s:i}", "kind", "transcription", "state", "given", "ts", 1700000000);
	CHECK(consent_in_json(o, "m", &c, &e) == 0 && c.ts_ms == 1700000000000LL, "JSON with epoch ts");
	json_object_set_new(o, "note", json_string("x"));
	CHECK(consent_in_json(o, "m", &c, &e) && e.err == RD_E_UNKNOWN_FIELD, "an unknown JSON field");
	json_decref(o);
}

static int reload(struct app *app)
{
	char err[1024];
	int rc = app_reload(app, err, sizeof err);
	if (rc)
		fprintf(stderr, "reload: %s\n", err);
	return rc;
}

static void test_policy(void)
{
	struct app app;
	struct consent_policy p;
	char path[600];
	CHECK(afx_open(&app, "policy", NULL) == 0, "app opens");
	snprintf(path, sizeof path, "%s/policy.conf", TEST_TMPDIR());
	FILE *f = fopen(path, "a");
	fprintf(f, "[tenant \"meta\"]\nvoice_without_consent = metadata\nconsent_withdrawal = erase\n"
	        "[tenant \"off\"]\nvoice_requires_consent = no\n");
	fclose(f);
	/* [channels] keys go into the existing section */
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "sed -i '/^\\[channels\\]/a voice_requires_consent = yes' %s", path);
	CHECK(system(cmd) == 0, "config edited");
	CHECK(reload(&app) == 0, "reload with the consent keys");
	struct app_snap *s = app_snap_acquire(&app);
	consent_policy_of(s->cfg, "default", &p);
	CHECK(p.voice_requires && !p.metadata_only && !p.erase_on_withdrawal, "[channels] values");
	consent_policy_of(s->cfg, "meta", &p);
	CHECK(p.voice_requires && p.metadata_only && p.erase_on_withdrawal, "a tenant's overrides");
	consent_policy_of(s->cfg, "off", &p);
	CHECK(!p.voice_requires && !p.metadata_only, "a tenant turning it off");
	app_snap_release(s);
	app_close(&app);
}

struct allow_q {
	const char *tenant;
	unsigned char conv[CRYPTO_HASH_BYTES];
};

/* The voice rule for conversation conv (and the phone subject, if any). */
static int allowed(struct app *app, const char *tenant, const char *conv, const char *phone,
                   bool requires)
{
	struct consent_policy pol = { .voice_requires = requires };
	unsigned char c[CRYPTO_HASH_BYTES], subj[1][CRYPTO_HASH_BYTES];
	struct redact_subject rs;
	struct rd_error e;
	bool ok;
	crypto_conversation_hash(app->lookup_key, tenant, conv, strlen(conv), c);
	struct app_snap *s = app_snap_acquire(app);
	int n = phone && redact_subject_hash(s->redact, SUBJECT_PHONE, phone, strlen(phone), &rs) == 0;
	app_snap_release(s);
	if (n)
		memcpy(subj[0], rs.hash, CRYPTO_HASH_BYTES);
	return consent_voice_allowed(app, &pol, tenant, c, (const unsigned char (*)[CRYPTO_HASH_BYTES])subj,
	                             (size_t)n, &ok, &e) ? -1 : ok;
}

static int add(struct app *app, enum consent_target_kind k, const char *tenant, const char *value,
               const char *kind, const char *state, struct consent_result *r)
{
	struct consent_target t = { k, tenant, value };
	struct consent_in c;
	struct rd_error e;
	struct consent_result tmp;
	if (consent_in_parse(kind, state, "ivr", NULL, "", &c, &e))
		return -1;
	return consent_add(app, &t, &c, "unit", r ? r : &tmp, &e);
}

static void test_record_and_voice(void)
{
	struct app app;
	struct rd_error e;
	CHECK(afx_open(&app, "voice", NULL) == 0, "app opens");
	CHECK(allowed(&app, "default", "call-1", NULL, true) == 0, "no decision: refused where required");
	CHECK(allowed(&app, "default", "call-1", NULL, false) == 1, "no decision: allowed elsewhere");
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "call-1", "transcription", "given", NULL) == 0,
	      "record a given transcription consent");
	CHECK(allowed(&app, "default", "call-1", NULL, true) == 1, "given: allowed");
	CHECK(allowed(&app, "acme", "call-1", NULL, true) == 0, "another tenant's conversation is not");
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "call-1", "marketing", "declined", NULL) == 0,
	      "another kind");
	CHECK(allowed(&app, "default", "call-1", NULL, true) == 1, "other kinds do not decide");
	CHECK(add(&app, CONSENT_PHONE, "default", "+44 7700 900777", "call_recording", "withdrawn", NULL) == 0,
	      "the caller withdraws call recording");
	CHECK(allowed(&app, "default", "call-1", "+447700900777", false) == 0,
	      "the newest decision over conversation and caller decides, even where not required");
	CHECK(allowed(&app, "default", "call-1", "+447700900888", true) == 1, "another caller: allowed");
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "call-1", "transcription", "given", NULL) == 0,
	      "given again on the conversation");
	CHECK(allowed(&app, "default", "call-1", "+447700900777", true) == 1, "newer, so it decides");
	CHECK(afx_audit_count("voice", "consent.add") == 4, "an audit entry per record");
	CHECK(afx_count("voice", "SELECT count(*) FROM consents") == 4, "four rows");
	CHECK(afx_sql("voice", "UPDATE consents SET state = 'given'") != 0, "the table refuses updates");
	CHECK(afx_count("voice", "SELECT count(*) FROM consents WHERE instr(target_hash, '7700') OR "
	                "instr(target_hash, 'call-1')") == 0, "no identifier in clear");
	CHECK(add(&app, CONSENT_PHONE, "default", "no phone", "transcription", "given", NULL) != 0,
	      "a target that is not a phone number");

	json_t *out = NULL;
	struct consent_target t = { CONSENT_CONVERSATION, "default", "call-1" };
	CHECK(consent_list(&app, &t, "unit", &out, &e) == 0, "list");
	json_t *rows = json_object_get(out, "consents");
	CHECK(json_array_size(rows) == 3, "the conversation's three records");
	CHECK(!strcmp(json_string_value(json_object_get(json_array_get(rows, 1), "kind")), "marketing"),
	      "oldest first");
	CHECK(!strcmp(json_string_value(json_object_get(json_object_get(out, "current"), "marketing")),
	              "declined"), "current state per kind");
	CHECK(afx_audit_count("voice", "consent.list") == 1, "the read is audited");
	json_decref(out);

	/* A decision carried by messages is recorded once while it holds. */
	struct consent_in c;
	CHECK(consent_in_parse("transcription", "given", "ivr", NULL, "", &c, &e) == 0, "parse");
	struct app_snap *s = app_snap_acquire(&app);
	int64_t before = afx_count("voice", "SELECT count(*) FROM consents");
	CHECK(consent_from_message(&app, s, "default", "cx-1", 4, "+447700900999", NULL, &c, "cx", &e) == 0 &&
	      consent_from_message(&app, s, "default", "cx-1", 4, "+447700900999", NULL, &c, "cx", &e) == 0,
	      "the same decision twice");
	CHECK(afx_count("voice", "SELECT count(*) FROM consents") == before + 2,
	      "recorded once, for the conversation and the sender");
	int kw;
	CHECK(consent_keyword_message(&app, s, "default", "+447700900999", NULL, "STOP", 4, "twilio", &kw, &e) == 0 &&
	      kw == 1, "STOP from a sender");
	CHECK(consent_keyword_message(&app, s, "default", NULL, NULL, "STOP", 4, "twilio", &kw, &e) == 0 && kw == 0,
	      "no sender: nothing");
	app_snap_release(s);
	bool oo;
	int64_t since;
	struct consent_target p = { CONSENT_PHONE, "default", "+44 7700 900999" };
	CHECK(consent_optout(&app, &p, &oo, &since, &e) == 0 && oo && since > 0, "opted out");
	p.value = "+447700900111";
	CHECK(consent_optout(&app, &p, &oo, &since, &e) == 0 && !oo && since == 0, "someone else is not");
	app_close(&app);
}

/* Where consent is not required, a refusal another process recorded (the
 * CLI, beside the daemon) is seen within a second. */
static void test_refusal_from_elsewhere(void)
{
	struct app app;
	CHECK(afx_open(&app, "elsewhere", NULL) == 0, "app opens");
	CHECK(allowed(&app, "default", "e-1", NULL, false) == 1, "nothing decided: allowed");
	struct consent_target t = { CONSENT_CONVERSATION, "default", "e-1" };
	unsigned char h[CRYPTO_HASH_BYTES];
	char sql[300], hex[2 * CRYPTO_HASH_BYTES + 1];
	crypto_conversation_hash(app.lookup_key, t.tenant, t.value, strlen(t.value), h);
	util_hex_encode(h, sizeof h, hex);
	snprintf(sql, sizeof sql, "INSERT INTO consents (tenant, scope, target_hash, kind, state, method,"
	         " source, ts_ms, recorded_ms) VALUES ('default', 'conversation', x'%s', 'transcription',"
	         " 'withdrawn', 'ivr', 'cli', 1, 1)", hex);
	CHECK(afx_sql("elsewhere", sql) == 0, "another process records a withdrawal");
	usleep(1100 * 1000);
	CHECK(allowed(&app, "default", "e-1", NULL, false) == 0, "seen within a second: refused");
	CHECK(allowed(&app, "default", "e-2", NULL, false) == 1, "other conversations: allowed");
	app_close(&app);
}

static void test_withdrawal_and_subject(void)
{
	struct app app;
	struct rd_error e;
	char path[600], cmd[1400];
	int64_t now = util_now_ms();
	CHECK(afx_open(&app, "withdraw", "call_transcript = 1d\n") == 0, "app opens");
	snprintf(path, sizeof path, "%s/withdraw.conf", TEST_TMPDIR());
	snprintf(cmd, sizeof cmd, "sed -i '/^\\[channels\\]/a consent_withdrawal = erase' %s", path);
	CHECK(system(cmd) == 0 && reload(&app) == 0, "consent_withdrawal = erase");
	CHECK(afx_message(&app, "default", "w-1", now, "voice", "turn one") == 0 &&
	      afx_message(&app, "default", "w-1", now, "voice", "turn two") == 0 &&
	      afx_message(&app, "default", "w-2", now, "voice", "held turn") == 0, "three voice turns");
	struct subject_query hq = { SQ_CONVERSATION, "default", "w-2" };
	char hid[HOLDS_ID_LEN + 1];
	CHECK(subject_hold_add(&app, &hq, "Litigation", "unit", hid, &e) == 0, "hold w-2");
	struct consent_result r;
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "w-1", "marketing", "withdrawn", &r) == 0 &&
	      r.removed == 0, "withdrawing another kind erases nothing");
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "w-1", "transcription", "withdrawn", &r) == 0 &&
	      r.removed == 2 && r.kept == 0, "a transcription withdrawal erases its conversation");
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "w-2", "transcription", "withdrawn", &r) == 0 &&
	      r.removed == 0 && r.kept == 1, "but not a held one");
	CHECK(afx_count("withdraw", "SELECT count(*) FROM messages") == 1, "one record left");
	CHECK(afx_audit_count("withdraw", "consent.erase") == 2 && afx_audit_count("withdraw", "erase.held") == 1,
	      "audited");
	CHECK(afx_count("withdraw", "SELECT count(*) FROM residue_pending") == 1, "residue marked");

	/* Export and erasure of a subject's history. */
	CHECK(afx_message(&app, "default", "s-1", now - 3 * DAY_MS, "voice", "call me on +44 7700 900444") == 0,
	      "an old turn naming a phone");
	CHECK(add(&app, CONSENT_CONVERSATION, "default", "s-1", "transcription", "given", NULL) == 0 &&
	      add(&app, CONSENT_PHONE, "default", "+447700900444", "marketing", "given", NULL) == 0,
	      "two records about the subject");
	struct subject_query q = { SQ_PHONE, "default", "+447700900444" };
	json_t *x = NULL;
	CHECK(subject_export(&app, &q, "unit", &x, &e) == 0, "export");
	CHECK(json_array_size(json_object_get(x, "consents")) == 2, "the export carries both records");
	json_decref(x);
	int64_t rows = afx_count("withdraw", "SELECT count(*) FROM consents");
	struct retention_report rep;
	CHECK(retention_pass(&app, "unit", false, NULL, &rep) == 0, "a sweep");
	retention_report_free(&rep);
	CHECK(afx_count("withdraw", "SELECT count(*) FROM consents") == rows,
	      "the sweeper deletes no consent record");
	struct subject_erase_result er;
	CHECK(subject_erase(&app, &q, "unit", &er, &e) == 0, "erase the subject");
	/* The sweep purged s-1's old turn, so the subject is no longer linked
	 * to s-1: the erasure takes the subject's own record, and s-1's stays. */
	CHECK(afx_count("withdraw", "SELECT count(*) FROM consents") == rows - 1,
	      "their own history goes too");
	CHECK(afx_audit_count("withdraw", "consent.erase") == 3, "and says so in the audit log");
	CHECK(afx_count("withdraw", "SELECT count(*) FROM erasure_journal WHERE kind = 'conversation'") > 0,
	      "withdrawal erasures are in the erasure journal");
	CHECK(afx_audit_intact(&app), "the chain verifies");
	app_close(&app);
}

/* The webhook parameters become the user turn's "consent" field. */
static json_t *first_consent(const struct webhook_batch *b)
{
	return json_object_get(json_array_get(b->list, 0), "consent");
}

static void test_webhook_parameters(void)
{
	struct rd_error e;
	struct webhook_batch b;
	json_t *cx = json_pack("{s:{s:s, s:{s:s}}, s:s}", "sessionInfo", "session", "projects/p/sessions/s1",
	                       "parameters", "redactd_consent", "withdrawn", "transcript", "no thanks");
	CHECK(webhook_batch_init(&b) == 0 && webhook_cx_collect(cx, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "a CX turn");
	json_t *c = first_consent(&b);
	CHECK(c && !strcmp(json_string_value(json_object_get(c, "state")), "withdrawn") &&
	      !strcmp(json_string_value(json_object_get(c, "kind")), "transcription") &&
	      !strcmp(json_string_value(json_object_get(c, "method")), "ivr"),
	      "redactd_consent: a transcription decision by IVR");
	webhook_batch_free(&b);
	json_object_del(json_object_get(cx, "sessionInfo"), "parameters");
	CHECK(webhook_batch_init(&b) == 0 && webhook_cx_collect(cx, &b, &e) == 0 && !first_consent(&b),
	      "no parameter, no consent field");
	webhook_batch_free(&b);
	json_decref(cx);

	static const char body[] = "Body=hi&From=whatsapp%3A%2B447700900123&MessageSid=SM1"
	                           "&redactd_consent=given&redactd_consent_kind=marketing";
	struct webhook_form f;
	CHECK(webhook_form_parse(body, sizeof body - 1, &f) == 0, "form");
	CHECK(webhook_batch_init(&b) == 0 &&
	      webhook_twilio_collect(&f, NULL, SOURCE_LOCATION_REDACT, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "a Twilio message");
	c = first_consent(&b);
	CHECK(c && !strcmp(json_string_value(json_object_get(c, "kind")), "marketing") &&
	      !strcmp(json_string_value(json_object_get(c, "method")), "whatsapp"),
	      "redactd_consent_kind and the channel's method");
	webhook_batch_free(&b);
	webhook_form_free(&f);

	static const char speech[] = "CallSid=CA1&From=%2B447700900123&SpeechResult=yes%20please"
	                             "&redactd_consent=given";
	CHECK(webhook_form_parse(speech, sizeof speech - 1, &f) == 0, "voice form");
	CHECK(webhook_batch_init(&b) == 0 &&
	      webhook_twilio_collect(&f, NULL, SOURCE_LOCATION_REDACT, &b, &e) == 0 &&
	      webhook_batch_size(&b) == 1, "a Twilio <Gather> turn");
	c = first_consent(&b);
	CHECK(c && !strcmp(json_string_value(json_object_get(c, "kind")), "transcription") &&
	      !strcmp(json_string_value(json_object_get(c, "method")), "ivr"),
	      "a call's decision is a transcription decision by IVR");
	webhook_batch_free(&b);
	webhook_form_free(&f);
}

int main(void)
{
	if (crypto_global_init())
		return 2;
	test_keywords();
	test_parse();
	test_webhook_parameters();
	test_policy();
	test_record_and_voice();
	test_refusal_from_elsewhere();
	test_withdrawal_and_subject();
	return TEST_DONE();
}
