/*
 * test_crypto.c — master key loading, keygen, sealing with associated data,
 * wrapping, hashes and ids.
 */
#include "crypto.h"
#include "harness.h"
#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned char conv_a[CRYPTO_HASH_BYTES] = { 1, 2, 3 };
static const unsigned char conv_b[CRYPTO_HASH_BYTES] = { 1, 2, 4 };

static void path_in_tmp(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", TEST_TMPDIR(), name);
}

static int write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	int rc = write(fd, p, n) == (ssize_t)n ? 0 : -1;
	close(fd);
	return chmod(path, mode) || rc;
}

static struct keyring *load(const char *path)
{
	struct keyring *kr = NULL;
	char err[256];
	if (keyring_load(path, &kr, err, sizeof err))
		return NULL;
	return kr;
}

static void test_keygen(void)
{
	char p[512], err[256];
	struct stat sb;
	path_in_tmp(p, sizeof p, "master.key");
	CHECK(crypto_keygen_file(p, err, sizeof err) == 0, "keygen creates a key file");
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600, "keygen file is mode 0600");
	CHECK(sb.st_size == CRYPTO_KEY_BYTES, "keygen file holds 32 bytes");
	CHECK(crypto_keygen_file(p, err, sizeof err) != 0, "keygen refuses to overwrite");
	CHECK(stat(p, &sb) == 0 && sb.st_size == CRYPTO_KEY_BYTES, "refused keygen left the file");
	mode_t old = umask(0);
	path_in_tmp(p, sizeof p, "umask0.key");
	CHECK(crypto_keygen_file(p, err, sizeof err) == 0 && stat(p, &sb) == 0 &&
	      (sb.st_mode & 0777) == 0600, "keygen is 0600 even with umask 0");
	umask(old);
}

/* Fingerprints of two keyrings match (the same master key). */
static bool same_fp(const struct keyring *a, const struct keyring *b)
{
	unsigned char fa[CRYPTO_HASH_BYTES], fb[CRYPTO_HASH_BYTES];
	keyring_fingerprint(a, fa);
	keyring_fingerprint(b, fb);
	return memcmp(fa, fb, sizeof fa) == 0;
}

static void test_keyring_save(void)
{
	char a[512], b[512], err[256];
	struct stat sb;
	path_in_tmp(a, sizeof a, "save-old.key");
	path_in_tmp(b, sizeof b, "save-new.key");
	CHECK(crypto_keygen_file(a, err, sizeof err) == 0 && crypto_keygen_file(b, err, sizeof err) == 0,
	      "two keys for save");
	struct keyring *nk = load(b), *old = load(a), *back = NULL;
	CHECK(nk && old && !same_fp(nk, old), "different keys differ");
	mode_t um = umask(0);
	CHECK(nk && keyring_save(nk, a, err, sizeof err) == 0, "keyring_save replaces a key file");
	umask(um);
	CHECK(stat(a, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == CRYPTO_KEY_BYTES,
	      "saved key file is 0600 and 32 bytes, even with umask 0");
	CHECK(nk && (back = load(a)) && same_fp(back, nk), "the saved file holds the keyring's key");
	path_in_tmp(b, sizeof b, "no-such-dir/x.key");
	CHECK(nk && keyring_save(nk, b, err, sizeof err) != 0, "save into a missing directory fails");
	keyring_free(nk);
	keyring_free(old);
	keyring_free(back);
}

static void test_key_load(void)
{
	char p[512], err[256];
	unsigned char k[2 * CRYPTO_KEY_BYTES] = { 7 };
	struct keyring *kr = NULL;
	path_in_tmp(p, sizeof p, "master.key");
	CHECK((kr = load(p)) != NULL, "key file 0600 loads");
	keyring_free(kr);
	keyring_free(NULL);
	path_in_tmp(p, sizeof p, "loose.key");
	CHECK(write_file(p, k, CRYPTO_KEY_BYTES, 0640) == 0, "write 0640 key");
	CHECK(keyring_load(p, &kr, err, sizeof err) != 0 && strstr(err, "chmod"),
	      "group-readable key file refused");
	CHECK(chmod(p, 0604) == 0 && load(p) == NULL, "other-readable key file refused");
	CHECK(chmod(p, 0400) == 0 && (kr = load(p)) != NULL, "0400 key file loads");
	keyring_free(kr);
	path_in_tmp(p, sizeof p, "short.key");
	CHECK(write_file(p, k, 31, 0600) == 0 && load(p) == NULL, "31-byte key file refused");
	path_in_tmp(p, sizeof p, "long.key");
	CHECK(write_file(p, k, 33, 0600) == 0 && load(p) == NULL, "33-byte key file refused");
	path_in_tmp(p, sizeof p, "missing.key");
	CHECK(load(p) == NULL, "missing key file refused");
	CHECK(load(TEST_TMPDIR()) == NULL, "directory refused");
}

static void test_credential(void)
{
	char p[512];
	unsigned char k[CRYPTO_KEY_BYTES] = { 9 };
	struct keyring *kr;
	path_in_tmp(p, sizeof p, "cred.key");
	CHECK(write_file(p, k, sizeof k, 0400) == 0, "write credential");
	unsetenv("CREDENTIALS_DIRECTORY");
	util_credential_fallback("/nonexistent-redactd-dir/redactd.conf");
	CHECK(load("credential:cred.key") == NULL, "credential absent from the config's directory refused");
	path_in_tmp(p, sizeof p, "redactd.conf");
	util_credential_fallback(p);
	CHECK((kr = load("credential:cred.key")) != NULL,
	      "without $CREDENTIALS_DIRECTORY, credential:NAME is read beside the config");
	keyring_free(kr);
	util_credential_fallback("/nonexistent-redactd-dir/redactd.conf");
	setenv("CREDENTIALS_DIRECTORY", TEST_TMPDIR(), 1);
	CHECK((kr = load("credential:cred.key")) != NULL, "credential:NAME loads");
	keyring_free(kr);
	CHECK(load("credential:../x") == NULL, "credential name with / refused");
	CHECK(load("credential:..") == NULL, "credential .. refused");
	CHECK(load("credential:") == NULL, "empty credential name refused");
	unsetenv("CREDENTIALS_DIRECTORY");
}

static const struct crypto_ad_row ad_base = {
	.key_id = 0x0102030405060708LL, .tenant = "acme", .record_id = "m_000000000000000000000001",
	.role = "user", .channel = "web", .category = "chat_transcript", .ts_ms = 0x0a0b0c0d0e0f1011LL,
};

static void test_ad_layout(void)
{
	unsigned char ad[CRYPTO_AD_MAX];
	struct crypto_ad_row a = ad_base;
	a.conv_hash = conv_a;
	size_t n = crypto_ad_build(ad, FIELD_TEXT, &a);
	CHECK(n == 3 + 1 + 8 + 4 + 1 + 32 + 26 + 1 + 4 + 1 + 3 + 1 + 15 + 1 + 8, "ad length");
	CHECK(memcmp(ad, "rd2t", 4) == 0, "ad starts with rd2 and the field");
	CHECK(ad[4] == 1 && ad[11] == 8, "key id is big-endian");
	CHECK(memcmp(ad + 12, "acme", 5) == 0, "tenant then a 0 byte");
	CHECK(memcmp(ad + 17, conv_a, 32) == 0, "then the conversation hash");
	CHECK(memcmp(ad + 49, "m_000000000000000000000001", 26) == 0, "then the record id");
	CHECK(memcmp(ad + 75, "\0user\0web\0chat_transcript\0", 26) == 0,
	      "then role, channel and category, each after a 0 byte");
	CHECK(ad[101] == 0x0a && ad[108] == 0x11, "then the time, big-endian");
	CHECK(crypto_ad_build_v1(ad, FIELD_TEXT, &a) == 3 + 1 + 8 + 4 + 1 + 32 + 26 &&
	      memcmp(ad, "rd1t", 4) == 0, "format 1 (re-sealing older rows) is the old layout");
	char longest[RD_MAX_NAME_LEN + 1], name[CRYPTO_AD_NAME_MAX + 1];
	memset(longest, 'x', RD_MAX_NAME_LEN);
	longest[RD_MAX_NAME_LEN] = '\0';
	memset(name, 'y', CRYPTO_AD_NAME_MAX);
	name[CRYPTO_AD_NAME_MAX] = '\0';
	a.tenant = a.category = longest;
	a.role = a.channel = name;
	n = crypto_ad_build(ad, FIELD_META, &a);
	CHECK(n > 0 && n <= CRYPTO_AD_MAX, "longest tenant, category, role and channel fit CRYPTO_AD_MAX");
	char toolong[RD_MAX_NAME_LEN + 2];
	memset(toolong, 'z', sizeof toolong - 1);
	toolong[sizeof toolong - 1] = '\0';
	a.category = toolong;
	CHECK(crypto_ad_build(ad, FIELD_META, &a) == 0, "an overlong column (an edited row) gives 0");
	a.category = "c";
	a.conv_hash = NULL;
	CHECK(crypto_ad_build(ad, FIELD_META, &a) == 0, "a missing conversation hash gives 0");
}

/* Seals "hello" for one row and tries to open it on variations of the row. */
static void test_seal_open(void)
{
	unsigned char key[CRYPTO_KEY_BYTES], other[CRYPTO_KEY_BYTES], ad[CRYPTO_AD_MAX];
	unsigned char c[5 + CRYPTO_SEAL_OVERHEAD], c2[sizeof c], m[5];
	const char *rid = "m_0123456789abcdef01234567";
	struct crypto_ad_row a = ad_base;
	a.conv_hash = conv_a;
	a.record_id = rid;
	a.key_id = 5;
	randombytes_buf(key, sizeof key);
	randombytes_buf(other, sizeof other);
	size_t adlen = crypto_ad_build(ad, FIELD_TEXT, &a);
	crypto_seal(key, ad, adlen, "hello", 5, c);
	CHECK(crypto_open(key, ad, adlen, c, sizeof c, m) == 0 && memcmp(m, "hello", 5) == 0,
	      "seal/open round trip");
	crypto_seal(key, ad, adlen, "hello", 5, c2);
	CHECK(memcmp(c, c2, CRYPTO_NONCE_BYTES) != 0, "random nonce per seal");
	CHECK(crypto_open(other, ad, adlen, c, sizeof c, m) != 0, "wrong key fails");
	struct { const char *name; enum crypto_field f; struct crypto_ad_row r; } moved[] = {
		{ "other record id fails", FIELD_TEXT, a }, { "other conversation fails", FIELD_TEXT, a },
		{ "other field fails", FIELD_META, a }, { "other key id fails", FIELD_TEXT, a },
		{ "other tenant fails", FIELD_TEXT, a }, { "other role fails", FIELD_TEXT, a },
		{ "other channel fails", FIELD_TEXT, a }, { "other category fails", FIELD_TEXT, a },
		{ "other time fails", FIELD_TEXT, a }, { "format 1 AD fails", FIELD_TEXT, a },
	};
	moved[0].r.record_id = "m_0123456789abcdef01234568";
	moved[1].r.conv_hash = conv_b;
	moved[3].r.key_id = 6;
	moved[4].r.tenant = "acmf";
	moved[5].r.role = "agent";
	moved[6].r.channel = "sms";
	moved[7].r.category = "lead";
	moved[8].r.ts_ms = a.ts_ms - 1;
	for (size_t i = 0; i < RD_ARRAY_LEN(moved); i++) {
		unsigned char ad2[CRYPTO_AD_MAX];
		size_t l2 = i == 9 ? crypto_ad_build_v1(ad2, moved[i].f, &moved[i].r)
		                   : crypto_ad_build(ad2, moved[i].f, &moved[i].r);
		CHECK(crypto_open(key, ad2, l2, c, sizeof c, m) != 0, moved[i].name);
	}
	c[CRYPTO_NONCE_BYTES] ^= 1;
	CHECK(crypto_open(key, ad, adlen, c, sizeof c, m) != 0, "tampered ciphertext fails");
	CHECK(crypto_open(key, ad, adlen, c, CRYPTO_SEAL_OVERHEAD - 1, m) != 0, "short input fails");
	CHECK(crypto_open(key, ad, adlen, NULL, 0, m) != 0, "NULL input fails");
	unsigned char e[CRYPTO_SEAL_OVERHEAD];
	crypto_seal(key, ad, adlen, "", 0, e);
	CHECK(crypto_open(key, ad, adlen, e, sizeof e, m) == 0, "empty message round trip");
}

static void test_wrap(void)
{
	char p[512], p2[512], err[256];
	unsigned char dk[CRYPTO_KEY_BYTES], out[CRYPTO_KEY_BYTES], w[CRYPTO_WRAPPED_BYTES];
	path_in_tmp(p, sizeof p, "master.key");
	path_in_tmp(p2, sizeof p2, "master2.key");
	CHECK(crypto_keygen_file(p2, err, sizeof err) == 0, "second key");
	struct keyring *a = load(p), *a2 = load(p), *b = load(p2);
	CHECK(a && a2 && b, "keyrings load");
	if (!a || !a2 || !b)
		goto done;
	randombytes_buf(dk, sizeof dk);
	CHECK(keyring_wrap(a, 42, dk, w) == 0, "wrap");
	CHECK(keyring_unwrap(a, 42, w, sizeof w, out) == 0 && !memcmp(dk, out, sizeof dk), "unwrap");
	CHECK(keyring_unwrap(a, 43, w, sizeof w, out) != 0, "unwrap under another key id fails");
	CHECK(keyring_unwrap(b, 42, w, sizeof w, out) != 0, "unwrap with another master fails");
	CHECK(keyring_unwrap(a, 42, w, sizeof w - 1, out) != 0, "truncated wrap fails");
	unsigned char s1[CRYPTO_KEY_BYTES], s2[CRYPTO_KEY_BYTES], s3[CRYPTO_KEY_BYTES];
	keyring_subkey(a, SUBKEY_LOOKUP, s1);
	keyring_subkey(a2, SUBKEY_LOOKUP, s2);
	keyring_subkey(a, SUBKEY_SUBJECT, s3);
	CHECK(!memcmp(s1, s2, sizeof s1), "subkey is deterministic");
	CHECK(memcmp(s1, s3, sizeof s1) != 0, "subkeys differ by id");
	/* HOLDS is what holds were always sealed with (subject.c before issue
	 * 13): kdf id 1, context "rd_holds", from the AUDIT subkey. */
	unsigned char audit[CRYPTO_KEY_BYTES], want[CRYPTO_KEY_BYTES], holds[CRYPTO_KEY_BYTES];
	keyring_subkey(a, SUBKEY_AUDIT, audit);
	crypto_kdf_derive_from_key(want, sizeof want, 1, "rd_holds", audit);
	keyring_subkey(a, SUBKEY_HOLDS, holds);
	CHECK(!memcmp(holds, want, sizeof holds) && memcmp(holds, audit, sizeof holds),
	      "the HOLDS key opens holds sealed by earlier releases");
	unsigned char f1[CRYPTO_HASH_BYTES], f2[CRYPTO_HASH_BYTES], f3[CRYPTO_HASH_BYTES];
	unsigned char root[CRYPTO_WRAPPED_BYTES], sb1[CRYPTO_KEY_BYTES];
	CHECK(keyring_wrap_root(a, root) == 0, "wrap the root key");
	CHECK(keyring_load_root(b, root, sizeof root) != 0, "another master key cannot load it");
	keyring_subkey(b, SUBKEY_LOOKUP, sb1);
	CHECK(memcmp(sb1, s1, sizeof s1) != 0, "a refused root leaves the keyring as it was");
	static const unsigned char other_root[CRYPTO_KEY_BYTES] = { 42 };
	CHECK(keyring_wrap(b, CRYPTO_ROOT_KEY_ID, other_root, root) == 0 &&
	      keyring_load_root(b, root, sizeof root) == 0,
	      "a root wrapped by b loads into b");
	keyring_subkey(b, SUBKEY_LOOKUP, sb1);
	CHECK(memcmp(sb1, s1, sizeof s1) != 0, "subkeys now derive from that root");
	keyring_fingerprint(a, f1);
	keyring_fingerprint(a2, f2);
	keyring_fingerprint(b, f3);
	CHECK(!memcmp(f1, f2, sizeof f1) && memcmp(f1, f3, sizeof f1), "fingerprints name master keys");
done:
	keyring_free(a);
	keyring_free(a2);
	keyring_free(b);
}

static void test_hashes_ids(void)
{
	unsigned char k[CRYPTO_KEY_BYTES] = { 1 }, k2[CRYPTO_KEY_BYTES] = { 2 };
	unsigned char h1[32], h2[32], h3[32], h4[32];
	crypto_conversation_hash(k, "ab", "c", 1, h1);
	crypto_conversation_hash(k, "a", "bc", 2, h2);
	crypto_conversation_hash(k, "ab", "c", 1, h3);
	crypto_conversation_hash(k2, "ab", "c", 1, h4);
	CHECK(!memcmp(h1, h3, 32), "conversation hash is deterministic");
	CHECK(memcmp(h1, h2, 32) != 0, "tenant and id are separated");
	CHECK(memcmp(h1, h4, 32) != 0, "conversation hash is keyed");
	char a[RD_RECORD_ID_LEN + 1], b[RD_RECORD_ID_LEN + 1];
	crypto_record_id(a);
	crypto_record_id(b);
	bool hex = strlen(a) == RD_RECORD_ID_LEN && a[0] == 'm' && a[1] == '_';
	for (int i = 2; i < RD_RECORD_ID_LEN; i++)
		hex = hex && strchr("0123456789abcdef", a[i]) && a[i];
	CHECK(hex, "record id is m_ + 24 hex digits");
	CHECK(strcmp(a, b) != 0, "record ids differ");
	unsigned char t[32];
	static const unsigned char abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad };
	crypto_token_hash("abc", 3, t);
	CHECK(!memcmp(t, abc, 32), "token hash is SHA-256");
}

/* The nonce of a fresh seal of a one-byte message. */
static void seal_nonce(unsigned char nonce[CRYPTO_NONCE_BYTES])
{
	static const unsigned char key[CRYPTO_KEY_BYTES] = { 7 };
	unsigned char out[1 + CRYPTO_SEAL_OVERHEAD];
	crypto_seal(key, (const unsigned char *)"ad", 2, "x", 1, out);
	memcpy(nonce, out, CRYPTO_NONCE_BYTES);
}

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, CRYPTO_NONCE_BYTES);
}

#define NONCES_PER_THREAD 2000   /* 4 threads: 8,000 seals */

static void *seal_many(void *arg)
{
	unsigned char (*n)[CRYPTO_NONCE_BYTES] = arg;
	for (int i = 0; i < NONCES_PER_THREAD; i++)
		seal_nonce(n[i]);
	return NULL;
}

/* Nonces come from a per-thread pool refilled in bulk: none may repeat
 * within a thread, across threads, or between a process and a child it
 * forks after drawing from the pool. */
static void test_nonces_unique(void)
{
	enum { THREADS = 4 };
	unsigned char (*n)[CRYPTO_NONCE_BYTES] = calloc(THREADS * NONCES_PER_THREAD, CRYPTO_NONCE_BYTES);
	pthread_t t[THREADS];
	int started = 1;
	for (int i = 0; i < THREADS; i++)
		started &= pthread_create(&t[i], NULL, seal_many, n + i * NONCES_PER_THREAD) == 0;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(started, "threads start");
	qsort(n, THREADS * NONCES_PER_THREAD, CRYPTO_NONCE_BYTES, cmp_nonce);
	int repeats = 0;
	for (int i = 1; i < THREADS * NONCES_PER_THREAD; i++)
		repeats += !cmp_nonce(n[i - 1], n[i]);
	CHECK(repeats == 0, "no nonce repeats across 8000 seals in 4 threads");
	free(n);

	unsigned char mine[CRYPTO_NONCE_BYTES], childs[CRYPTO_NONCE_BYTES] = { 0 };
	seal_nonce(mine);   /* the pool now holds unused bytes */
	int fds[2];
	CHECK(pipe(fds) == 0, "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		seal_nonce(childs);
		_exit(write(fds[1], childs, sizeof childs) == (ssize_t)sizeof childs ? 0 : 1);
	}
	close(fds[1]);   /* a child that dies without writing ends the read */
	seal_nonce(mine);
	int status = -1;
	CHECK(pid > 0 && read(fds[0], childs, sizeof childs) == (ssize_t)sizeof childs &&
	          waitpid(pid, &status, 0) == pid && status == 0,
	      "child sealed and reported its nonce");
	CHECK(memcmp(mine, childs, sizeof mine) != 0, "a forked child does not reuse the parent's nonce");
	close(fds[0]);
}

int main(void)
{
	CHECK(crypto_global_init() == 0, "sodium_init");
	test_keygen();
	test_key_load();
	test_keyring_save();
	test_credential();
	test_ad_layout();
	test_seal_open();
	test_wrap();
	test_hashes_ids();
	test_nonces_unique();
	return TEST_DONE();
}
