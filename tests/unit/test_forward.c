/*
 * test_forward.c — tap mode's outbound side (forward.c) without HTTP on
 * redactd's side: what the bot said (TwiML through expat, CX JSON), the
 * bot's turns, which headers pass, and the forward thread against real
 * loopback sockets: a tiny bot in a thread of this test that answers once,
 * a listener that never answers (timeout, the in-flight bound, shutdown),
 * and a closed port (unreachable after the retries).
 */
#include "harness.h"
#include "config.h"
#include "forward.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

/* ---- what the bot said ---- */

static char *texts_of(enum forward_kind kind, const char *body)
{
	json_t *t;
	if (forward_bot_texts(kind, body, strlen(body), &t))
		return strdup("(error)");
	char *s = json_dumps(t, JSON_COMPACT);
	json_decref(t);
	return s;
}

static void check_texts(enum forward_kind kind, const char *body, const char *want, const char *name)
{
	char *got = texts_of(kind, body);
	CHECK_STR(got, want, name);
	free(got);
}

static void test_twiml(void)
{
	check_texts(FORWARD_TWILIO,
	            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Hi &amp; bye</Message></Response>",
	            "[\"Hi & bye\"]", "twiml: <Message> text, entities decoded");
	check_texts(FORWARD_TWILIO,
	            "<Response><Message to=\"+1\"><Body> one </Body><Media>https://x/y.png</Media></Message>"
	            "<Say voice=\"alice\">two</Say><Play>https://x/z.mp3</Play></Response>",
	            "[\"one\",\"two\"]", "twiml: <Body> inside <Message> once, <Say>; media, attributes ignored");
	check_texts(FORWARD_TWILIO, "<Response><Message>a<![CDATA[<b>]]>c</Message></Response>", "[\"a<b>c\"]",
	            "twiml: CDATA is text");
	check_texts(FORWARD_TWILIO, "<Response></Response>", "[]", "twiml: empty TwiML says nothing");
	check_texts(FORWARD_TWILIO, "", "[]", "twiml: an empty answer says nothing");
	check_texts(FORWARD_TWILIO, "<Response><Message>open</Response>", "(error)", "twiml: malformed XML refused");
	check_texts(FORWARD_TWILIO,
	            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
	            "<Response><Message>&b;</Message></Response>",
	            "(error)", "twiml: a DOCTYPE is refused (no entity expansion)");
	check_texts(FORWARD_TWILIO,
	            "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><Response><Message>x</Message></Response>",
	            "(error)", "twiml: an external DTD is refused");
}

static void test_cx(void)
{
	check_texts(FORWARD_CX,
	            "{\"fulfillmentResponse\":{\"messages\":[{\"text\":{\"text\":[\"a\",\"b\"]}},"
	            "{\"payload\":{\"x\":1}},{\"text\":{\"text\":[\"c\",\"\",7]}}]}}",
	            "[\"a\",\"b\",\"c\"]", "cx: every text.text[] string, others skipped");
	check_texts(FORWARD_CX, "{\"fulfillment_response\":{\"messages\":[{\"text\":{\"text\":[\"s\"]}}]}}",
	            "[\"s\"]", "cx: the proto field name is taken too");
	check_texts(FORWARD_CX, "{\"sessionInfo\":{}}", "[]", "cx: no fulfillmentResponse says nothing");
	check_texts(FORWARD_CX, "[1]", "(error)", "cx: not an object refused");
	check_texts(FORWARD_CX, "{\"a\":", "(error)", "cx: not JSON refused");
	check_texts(FORWARD_WHATSAPP, "EVENT_RECEIVED", "[]", "whatsapp: a bot answers nothing inline");
}

static void test_bot_messages(void)
{
	json_t *user = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "messages", "conversation_id", "+447700900456",
	                         "text", "hi", "role", "user", "channel", "sms");
	json_t *texts = json_pack("[s, s]", "one", "two");
	json_t *m = forward_bot_messages(user, texts);
	char *s = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	CHECK_STR(s, "{\"messages\":[{\"channel\":\"sms\",\"conversation_id\":\"+447700900456\",\"role\":\"bot\","
	             "\"text\":\"one\"},{\"channel\":\"sms\",\"conversation_id\":\"+447700900456\",\"role\":\"bot\","
	             "\"text\":\"two\"}]}", "bot turns: role bot, the user's conversation and channel");
	free(s);
	json_decref(m);
	json_t *none = json_array();
	CHECK(forward_bot_messages(user, none) == NULL, "bot turns: no text, no turns");
	json_t *empty = json_pack("{s:[]}", "messages");
	CHECK(forward_bot_messages(empty, texts) == NULL, "bot turns: no user turn, no conversation");
	json_decref(empty);
	json_decref(none);
	json_decref(texts);
	json_decref(user);
}

static void test_headers(void)
{
	CHECK(forward_header_dropped(FORWARD_TWILIO, "x-twilio-signature"), "headers: twilio's signature is replaced");
	CHECK(!forward_header_dropped(FORWARD_WHATSAPP, "X-Hub-Signature-256"), "headers: meta's passes");
	CHECK(!forward_header_dropped(FORWARD_TWILIO, "Authorization"), "headers: twilio keeps Authorization");
	CHECK(forward_header_dropped(FORWARD_CX, "authorization"), "headers: CX's bearer token is redactd's");
	CHECK(!forward_header_dropped(FORWARD_CX, "X-Bot-Key"), "headers: CX's other static headers pass");
	CHECK(forward_header_dropped(FORWARD_WHATSAPP, "Connection") &&
	      forward_header_dropped(FORWARD_WHATSAPP, "Transfer-Encoding") &&
	      forward_header_dropped(FORWARD_WHATSAPP, "Host") &&
	      forward_header_dropped(FORWARD_WHATSAPP, "Content-Length") &&
	      forward_header_dropped(FORWARD_WHATSAPP, "Accept-Encoding"), "headers: hop-by-hop and framing dropped");
	CHECK(!forward_header_dropped(FORWARD_TWILIO, "Content-Type"), "headers: Content-Type passes");
	CHECK(forward_reply_header_dropped("date") && forward_reply_header_dropped("Keep-Alive") &&
	      !forward_reply_header_dropped("Content-Type") && !forward_reply_header_dropped("X-Bot"),
	      "reply headers: Date and hop-by-hop dropped, the rest relayed");
}

/* ---- the forward thread against loopback sockets ---- */

static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* The bot: one request read whole, one TwiML answer. */
struct bot {
	int fd;
	char req[4096];
};

static void *bot_main(void *arg)
{
	struct bot *b = arg;
	static const char answer[] = "HTTP/1.1 201 Created\r\nContent-Type: text/xml\r\nX-Bot: unit\r\n"
	                             "Connection: close\r\nContent-Length: 42\r\n\r\n"
	                             "<Response><Message>hi</Message></Response>";
	int c = accept(b->fd, NULL, NULL);
	size_t n = 0;
	while (c >= 0 && n < sizeof b->req - 1) {
		ssize_t r = read(c, b->req + n, sizeof b->req - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		b->req[n] = '\0';
		char *end = strstr(b->req, "\r\n\r\n");
		if (end && strlen(end + 4) >= 7)   /* the body "a=1&b=2" */
			break;
	}
	if (c >= 0) {
		if (write(c, answer, sizeof answer - 1) < 0)
			perror("bot write");
		close(c);
	}
	return NULL;
}

static atomic_int dones;

static void on_done(void *arg)
{
	(void)arg;
	atomic_fetch_add(&dones, 1);
}

static bool wait_done(int n, int ms)
{
	for (int i = 0; i < ms && atomic_load(&dones) < n; i++)
		usleep(1000);
	return atomic_load(&dones) >= n;
}

static struct source_conf source(char *url, int timeout, int retries, int inflight)
{
	return (struct source_conf){ .name = (char *)"twilio", .forward_to = url, .forward_timeout = timeout,
	                             .forward_retries = retries, .forward_max_inflight = inflight,
	                             .forward_tls_verify = true };
}

static void test_answer(struct forward *f)
{
	struct bot b = { 0 };
	int port;
	char url[64];
	pthread_t t;
	b.fd = listener(&port);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook?x=1", port);
	struct source_conf src = source(url, 5, 0, 4);
	struct forward_call *c = forward_call_new(&src, "a=1&b=2", 7);
	CHECK(c && forward_call_header(c, "X-Twilio-Signature", "sig") == 0, "call: built with a header");
	CHECK(c && forward_call_header(c, "X-Bad", "a\r\nInjected: 1") == -1, "call: CR/LF in a header refused");
	if (b.fd < 0 || !c || pthread_create(&t, NULL, bot_main, &b)) {
		CHECK(0, "the loopback bot starts");
		forward_call_free(c);
		return;
	}
	atomic_store(&dones, 0);
	forward_submit(f, c, on_done, NULL);
	CHECK(wait_done(1, 5000), "answer: done runs");
	pthread_join(t, NULL);
	close(b.fd);
	const struct forward_result *r = forward_call_result(c);
	CHECK(r->outcome == FORWARD_OK && r->status == 201, "answer: the bot's status");
	CHECK(r->len == 42 && !memcmp(r->body, "<Response><Message>hi</Message></Response>", 42),
	      "answer: the bot's body");
	CHECK_STR(r->content_type, "text/xml", "answer: its Content-Type");
	bool xbot = false, conn = false;
	for (size_t i = 0; i < r->n_headers; i++) {
		xbot = xbot || !strcmp(r->headers[i], "X-Bot: unit");
		conn = conn || !strncasecmp(r->headers[i], "Connection", 10);
	}
	CHECK(xbot && !conn, "answer: its headers, without hop-by-hop ones");
	CHECK(!strncmp(b.req, "POST /hook?x=1 HTTP/1.1\r\n", 25), "request: POST to forward_to's path and query");
	CHECK(strstr(b.req, "\r\nX-Twilio-Signature: sig\r\n") != NULL, "request: the header added");
	CHECK(strstr(b.req, "\r\nExpect:") == NULL, "request: no Expect: 100-continue");
	CHECK(strstr(b.req, "\r\n\r\na=1&b=2") != NULL, "request: the body as given");
	forward_call_free(c);
}

static void test_timeout_and_bound(struct forward *f)
{
	int port, fd = listener(&port);   /* accepts (the kernel does), never answers */
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	struct source_conf src = source(url, 1, 3, 1);
	struct forward_call *a = forward_call_new(&src, "x", 1), *b = forward_call_new(&src, "y", 1);
	atomic_store(&dones, 0);
	int64_t t0 = util_mono_us();
	forward_submit(f, a, on_done, NULL);
	forward_submit(f, b, on_done, NULL);
	CHECK(atomic_load(&dones) == 1 && forward_call_result(b)->outcome == FORWARD_OVERLOADED,
	      "bound: one over forward_max_inflight ends at once, overloaded");
	CHECK(wait_done(2, 5000), "timeout: done runs");
	int64_t ms = (util_mono_us() - t0) / 1000;
	CHECK(forward_call_result(a)->outcome == FORWARD_TIMEOUT, "timeout: a silent bot times out");
	CHECK(ms >= 900 && ms < 3000, "timeout: after forward_timeout, never retried");
	forward_call_free(a);
	forward_call_free(b);
	/* The slot is free again. */
	struct forward_call *c = forward_call_new(&src, "z", 1);
	atomic_store(&dones, 0);
	forward_submit(f, c, on_done, NULL);
	CHECK(atomic_load(&dones) == 0, "bound: the slot is given back when a call ends");
	CHECK(wait_done(1, 5000), "bound: ... and that call ends too");
	forward_call_free(c);
	close(fd);
}

static void test_unreachable(struct forward *f)
{
	int port, fd = listener(&port);
	char url[64];
	close(fd);   /* nothing listens there now */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	struct source_conf src = source(url, 5, 2, 4);
	struct forward_call *c = forward_call_new(&src, "x", 1);
	atomic_store(&dones, 0);
	forward_submit(f, c, on_done, NULL);
	CHECK(wait_done(1, 5000), "unreachable: done runs");
	CHECK(forward_call_result(c)->outcome == FORWARD_UNREACHABLE, "unreachable: a closed port, after the retries");
	forward_call_free(c);
}

static void test_shutdown(struct app *app)
{
	struct forward *f;
	char err[128];
	int port, fd = listener(&port);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	struct source_conf src = source(url, 30, 0, 4);
	CHECK(forward_new(app, &f, err, sizeof err) == 0, "shutdown: a second engine starts");
	struct forward_call *c = forward_call_new(&src, "x", 1);
	atomic_store(&dones, 0);
	forward_submit(f, c, on_done, NULL);
	usleep(100000);
	int64_t t0 = util_mono_us();
	forward_stop(f);
	CHECK(atomic_load(&dones) == 1 && forward_call_result(c)->outcome == FORWARD_SHUTDOWN,
	      "shutdown: a running call ends as shutdown");
	CHECK(util_mono_us() - t0 < 2000000, "shutdown: without waiting for the bot");
	struct forward_call *d = forward_call_new(&src, "y", 1);
	forward_submit(f, d, on_done, NULL);
	CHECK(atomic_load(&dones) == 2 && forward_call_result(d)->outcome == FORWARD_SHUTDOWN,
	      "shutdown: a call after the stop ends at once");
	forward_call_free(c);
	forward_call_free(d);
	forward_free(f);
	close(fd);
}

int main(void)
{
	struct app app = { .metrics = metrics_new() };
	struct forward *f = NULL;
	char err[128];
	log_set_level(LOG_ERROR);   /* the failures below are meant: no warnings */
	test_twiml();
	test_cx();
	test_bot_messages();
	test_headers();
	CHECK(app.metrics && forward_new(&app, &f, err, sizeof err) == 0, "the forward thread starts");
	if (f) {
		test_answer(f);
		test_timeout_and_bound(f);
		test_unreachable(f);
		forward_free(f);
	}
	test_shutdown(&app);
	struct buf b = { 0 };
	CHECK(metrics_render(app.metrics, &b) == 0 &&
	      strstr(b.data, "redactd_forward_requests_total{source=\"twilio\",status=\"201\"} 1\n") &&
	      strstr(b.data, "redactd_forward_requests_total{source=\"twilio\",status=\"timeout\"} 2\n") &&
	      strstr(b.data, "redactd_forward_requests_total{source=\"twilio\",status=\"overloaded\"} 1\n") &&
	      strstr(b.data, "redactd_forward_requests_total{source=\"twilio\",status=\"unreachable\"} 1\n") &&
	      strstr(b.data, "redactd_forward_latency_seconds_count 7\n"), "metrics: every forward counted");
	buf_free(&b);
	metrics_free(app.metrics);
	return TEST_DONE();
}
