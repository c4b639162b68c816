/*
 * crypto.c — the master key, its subkeys, and sealing of record fields.
 *
 * Workload: one keyring per process, loaded at start; crypto_seal and
 * crypto_open run per field of every record ingested or read (a few per
 * message, ~1 us each for 1 KB); subkeys and wraps are rare. libsodium
 * only. Keys live in sodium_malloc'd memory (guard pages, mlocked, read
 * only while not being written) and are wiped by sodium_free; stack copies
 * are wiped on every path. Nothing here logs.
 */
#include "crypto.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KDF_CONTEXT "redactd_"   /* crypto_kdf_CONTEXTBYTES = 8 */

static const unsigned char wrap_ad_tag[] = { 'r', 'd', '-', 'd', 'k' };

struct keyring {
	unsigned char *master;   /* CRYPTO_KEY_BYTES, sodium_malloc'd, read only: wraps */
	unsigned char *root;     /* derivation root of the subkeys: the master key
	                          * until keyring_load_root installs the database's */
};

/* Nonces and the random part of record ids are public (stored beside the
 * ciphertext or returned to the client), so each thread draws them from a
 * small pool that one randombytes_buf call refills, rather than one
 * libsodium call (with its getpid fork check) per nonce. Keys never come
 * from here. */
#define PUBLIC_POOL_BYTES 1024

static _Thread_local unsigned char public_pool[PUBLIC_POOL_BYTES];
static _Thread_local size_t public_left;

/* A forked child must neither hand out its parent's unused pool bytes (a
 * nonce repeated under one key breaks XChaCha20-Poly1305) nor use the
 * parent's generator state, which libsodium's internal generator refuses
 * (it aborts) until stirred. Only the forking thread exists in the child. */
static void after_fork_in_child(void)
{
	public_left = 0;
	randombytes_stir();
}

static void use_internal_rng(void)
{
	(void)randombytes_set_implementation(&randombytes_internal_implementation);
	if (pthread_atfork(NULL, NULL, after_fork_in_child) != 0)
		abort();   /* cannot make fork safe: refuse rather than risk a nonce */
}

static void public_random(unsigned char *out, size_t n)
{
	if (n > PUBLIC_POOL_BYTES / 4) {
		randombytes_buf(out, n);
		return;
	}
	if (public_left < n) {
		randombytes_buf(public_pool, sizeof public_pool);
		public_left = sizeof public_pool;
	}
	unsigned char *from = public_pool + sizeof public_pool - public_left;
	memcpy(out, from, n);
	sodium_memzero(from, n);   /* each byte is handed out once */
	public_left -= n;
}

int crypto_global_init(void)
{
	/* crypto.h sizes must agree with libsodium's. */
	_Static_assert(CRYPTO_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
	_Static_assert(CRYPTO_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
	_Static_assert(CRYPTO_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
	_Static_assert(CRYPTO_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key");
	_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");
	/* libsodium's own ChaCha20 generator, seeded from getrandom() and
	 * kept per thread, rather than a getrandom() system call for every
	 * draw. Set once, before the first sodium_init, as libsodium
	 * requires; the fork handler comes with it. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, use_internal_rng);
	return sodium_init() < 0 ? -1 : 0;
}

/* ---- loading the master key ------------------------------------------- */

/* Reads exactly CRYPTO_KEY_BYTES from fd into key; the file must be a
 * regular file of that size, unreadable by group and others. */
static int read_key_fd(int fd, unsigned char *key, char *err, size_t errlen)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		util_err(err, errlen, "cannot stat key file: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		util_err(err, errlen, "key file is not a regular file");
		return -1;
	}
	if (sb.st_mode & 077) {
		util_err(err, errlen, "key file mode %03o lets group or others read it; "
		         "chmod 600 it", (unsigned)(sb.st_mode & 0777));
		return -1;
	}
	if (sb.st_size != CRYPTO_KEY_BYTES) {
		util_err(err, errlen, "key file must hold exactly %d bytes (redactd keygen)",
		         CRYPTO_KEY_BYTES);
		return -1;
	}
	size_t got = 0;
	while (got < CRYPTO_KEY_BYTES) {
		ssize_t r = read(fd, key + got, CRYPTO_KEY_BYTES - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			util_err(err, errlen, "cannot read key file");
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Why the key file did not open, and what to do about it. */
static void open_error(const char *path, int e, char *err, size_t errlen)
{
	const char *hint = e == ENOENT ? "; make one with `redactd keygen -o FILE`"
	                   : e == EACCES ? "; run as its owner (sudo), or under systemd pass it with "
	                                   "LoadCredential= and key_file = credential:NAME"
	                   : "";
	util_err(err, errlen, "cannot open key file %s: %s%s", path, strerror(e), hint);
}

int keyring_load(const char *spec, struct keyring **out, char *err, size_t errlen)
{
	char path[4096];
	int fd = -1, rc = -1;
	struct keyring *kr = NULL;
	if (!spec || util_credential_path(spec, path, sizeof path, err, errlen))
		goto fail;
	if (!(kr = calloc(1, sizeof *kr)) || !(kr->master = sodium_malloc(CRYPTO_KEY_BYTES)) ||
	    !(kr->root = sodium_malloc(CRYPTO_KEY_BYTES))) {
		util_err(err, errlen, "out of (locked) memory for the key");
		goto fail;
	}
	sodium_mlock(kr->master, CRYPTO_KEY_BYTES);   /* sodium_malloc locks too; be explicit */
	sodium_mlock(kr->root, CRYPTO_KEY_BYTES);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		open_error(path, errno, err, errlen);
		goto fail;
	}
	char why[256];
	if (read_key_fd(fd, kr->master, why, sizeof why)) {
		util_err(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	memcpy(kr->root, kr->master, CRYPTO_KEY_BYTES);
	sodium_mprotect_readonly(kr->master);
	sodium_mprotect_readonly(kr->root);
	*out = kr;
	kr = NULL;
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	keyring_free(kr);
	return rc;
}

void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	if (kr->master)
		sodium_free(kr->master);   /* wipes, unlocks, unmaps */
	if (kr->root)
		sodium_free(kr->root);
	free(kr);
}

static void derive(const unsigned char *from, enum crypto_subkey which,
                   unsigned char out[CRYPTO_KEY_BYTES])
{
	if (crypto_kdf_derive_from_key(out, CRYPTO_KEY_BYTES, (uint64_t)which, KDF_CONTEXT, from) != 0)
		abort();   /* only fails on a bad length: a bug */
}

void keyring_subkey(const struct keyring *kr, enum crypto_subkey which,
                    unsigned char out[CRYPTO_KEY_BYTES])
{
	if (which == SUBKEY_WRAP || which == SUBKEY_FINGERPRINT)
		abort();   /* master-key material is not handed out */
	if (which == SUBKEY_HOLDS) {
		unsigned char audit[CRYPTO_KEY_BYTES];
		derive(kr->root, SUBKEY_AUDIT, audit);
		if (crypto_kdf_derive_from_key(out, CRYPTO_KEY_BYTES, 1, "rd_holds", audit) != 0)
			abort();   /* only fails on a bad length: a bug */
		sodium_memzero(audit, sizeof audit);
		return;
	}
	derive(kr->root, which, out);
}

void keyring_fingerprint(const struct keyring *kr, unsigned char out[CRYPTO_HASH_BYTES])
{
	unsigned char k[CRYPTO_KEY_BYTES];
	derive(kr->master, SUBKEY_FINGERPRINT, k);
	crypto_generichash(out, CRYPTO_HASH_BYTES, (const unsigned char *)"rd-fp", 5, k, sizeof k);
	sodium_memzero(k, sizeof k);
}

/* ---- wrapping data keys ----------------------------------------------- */

static void be64(int64_t v, unsigned char out[8])
{
	uint64_t u = (uint64_t)v;
	for (int i = 7; i >= 0; i--, u >>= 8)
		out[i] = (unsigned char)(u & 0xff);
}

static size_t wrap_ad(int64_t key_id, unsigned char ad[sizeof wrap_ad_tag + 8])
{
	memcpy(ad, wrap_ad_tag, sizeof wrap_ad_tag);
	be64(key_id, ad + sizeof wrap_ad_tag);
	return sizeof wrap_ad_tag + 8;
}

int keyring_wrap(const struct keyring *kr, int64_t key_id, const unsigned char dk[CRYPTO_KEY_BYTES],
                 unsigned char out[CRYPTO_WRAPPED_BYTES])
{
	unsigned char ad[sizeof wrap_ad_tag + 8], wk[CRYPTO_KEY_BYTES];
	size_t adlen = wrap_ad(key_id, ad);
	derive(kr->master, SUBKEY_WRAP, wk);
	crypto_seal(wk, ad, adlen, dk, CRYPTO_KEY_BYTES, out);
	sodium_memzero(wk, sizeof wk);
	return 0;
}

int keyring_unwrap(const struct keyring *kr, int64_t key_id, const unsigned char *wrapped,
                   size_t wlen, unsigned char dk[CRYPTO_KEY_BYTES])
{
	unsigned char ad[sizeof wrap_ad_tag + 8], wk[CRYPTO_KEY_BYTES];
	if (!wrapped || wlen != CRYPTO_WRAPPED_BYTES)
		return -1;
	size_t adlen = wrap_ad(key_id, ad);
	derive(kr->master, SUBKEY_WRAP, wk);
	int rc = crypto_open(wk, ad, adlen, wrapped, wlen, dk);
	sodium_memzero(wk, sizeof wk);
	return rc;
}

int keyring_wrap_root(const struct keyring *kr, unsigned char out[CRYPTO_WRAPPED_BYTES])
{
	return keyring_wrap(kr, CRYPTO_ROOT_KEY_ID, kr->root, out);
}

int keyring_load_root(struct keyring *kr, const unsigned char *wrapped, size_t wlen)
{
	unsigned char root[CRYPTO_KEY_BYTES];
	int rc = keyring_unwrap(kr, CRYPTO_ROOT_KEY_ID, wrapped, wlen, root);
	if (rc == 0) {
		sodium_mprotect_readwrite(kr->root);
		memcpy(kr->root, root, sizeof root);
		sodium_mprotect_readonly(kr->root);
	}
	sodium_memzero(root, sizeof root);
	return rc;
}

/* ---- key generation ------------------------------------------------------ */

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so the new name survives a crash. */
static void sync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (!slash)
		memcpy(dir, ".", 2);
	else if (n == 0)
		memcpy(dir, "/", 2);
	else if (n < sizeof dir) {
		memcpy(dir, path, n);
		dir[n] = '\0';
	} else
		return;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int crypto_keygen_file(const char *path, char *err, size_t errlen)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	int rc = -1, created = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			util_err(err, errlen, "key file exists; refusing to overwrite it");
		else
			util_err(err, errlen, "cannot create key file: %s", strerror(errno));
		goto fail;
	}
	created = 1;
	randombytes_buf(key, sizeof key);
	if (fchmod(fd, 0600) != 0 || write_all(fd, key, sizeof key) != 0 || fsync(fd) != 0) {
		util_err(err, errlen, "cannot write key file: %s", strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		util_err(err, errlen, "cannot write key file: %s", strerror(errno));
		goto fail;
	}
	fd = -1;
	sync_parent(path);
	rc = 0;
fail:
	sodium_memzero(key, sizeof key);
	if (fd >= 0)
		close(fd);
	if (rc != 0 && created)
		unlink(path);
	return rc;
}

/* A temporary file beside path (same directory, so rename is atomic),
 * mode 0600, owned like the file it will replace so the daemon's user can
 * still read the key after root rotated it. */
static int temp_beside(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen)
{
	int n = snprintf(tmp, tmplen, "%s.tmp-XXXXXX", path);
	if (n < 0 || (size_t)n >= tmplen) {
		util_err(err, errlen, "key file path too long");
		return -1;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		util_err(err, errlen, "cannot create a temporary key file: %s", strerror(errno));
		return -1;
	}
	struct stat sb;
	if (fchmod(fd, 0600) != 0 ||
	    (lstat(path, &sb) == 0 && geteuid() == 0 && fchown(fd, sb.st_uid, sb.st_gid) != 0)) {
		util_err(err, errlen, "cannot set up the temporary key file: %s", strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	return fd;
}

int keyring_save(const struct keyring *kr, const char *path, char *err, size_t errlen)
{
	char tmp[4200];
	int fd = temp_beside(path, tmp, sizeof tmp, err, errlen);
	if (fd < 0)
		return -1;
	int ok = write_all(fd, kr->master, CRYPTO_KEY_BYTES) == 0 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		util_err(err, errlen, "cannot replace the key file: %s", strerror(errno));
		unlink(tmp);
		return -1;
	}
	sync_parent(path);
	return 0;
}

/* ---- sealing fields ------------------------------------------------------ */

/* Appends n bytes of s at out + *n. */
static void ad_put(unsigned char *out, size_t *n, const void *s, size_t len)
{
	memcpy(out + *n, s, len);
	*n += len;
}

/* The part both formats share: tag, field, key id, tenant, conversation
 * hash, record id. 0 when a value is too long: ingest validates what it
 * seals, so that is a row edited in the database, which must fail to
 * open (reported), not stop the daemon. */
static size_t ad_common(unsigned char *out, const char *tag, enum crypto_field field,
                        const struct crypto_ad_row *r)
{
	if (!r->conv_hash)
		return 0;
	size_t tlen = strlen(r->tenant), rlen = strlen(r->record_id), n = 0;
	if (tlen > RD_MAX_NAME_LEN || rlen > RD_RECORD_ID_LEN)
		return 0;
	ad_put(out, &n, tag, 3);
	out[n++] = (unsigned char)field;
	be64(r->key_id, out + n);
	n += 8;
	ad_put(out, &n, r->tenant, tlen);
	out[n++] = 0;
	ad_put(out, &n, r->conv_hash, CRYPTO_HASH_BYTES);
	ad_put(out, &n, r->record_id, rlen);
	return n;
}

size_t crypto_ad_build_v1(unsigned char out[CRYPTO_AD_MAX], enum crypto_field field,
                          const struct crypto_ad_row *row)
{
	return ad_common(out, "rd1", field, row);
}

size_t crypto_ad_build(unsigned char out[CRYPTO_AD_MAX], enum crypto_field field,
                       const struct crypto_ad_row *row)
{
	const char *names[3] = { row->role, row->channel, row->category };
	const size_t max[3] = { CRYPTO_AD_NAME_MAX, CRYPTO_AD_NAME_MAX, RD_MAX_NAME_LEN };
	size_t n = ad_common(out, "rd2", field, row);
	if (n == 0)
		return 0;
	/* 0 before each name: no two different rows give the same bytes. */
	for (size_t i = 0; i < 3; i++) {
		size_t len = strlen(names[i]);
		if (len > max[i])
			return 0;
		out[n++] = 0;
		ad_put(out, &n, names[i], len);
	}
	out[n++] = 0;
	be64(row->ts_ms, out + n);
	return n + 8;
}

void crypto_seal(const unsigned char key[CRYPTO_KEY_BYTES], const unsigned char *ad, size_t adlen,
                 const void *m, size_t mlen, unsigned char *out)
{
	unsigned long long clen;
	public_random(out, CRYPTO_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CRYPTO_NONCE_BYTES, &clen, m, mlen, ad, adlen,
	                                           NULL, out, key);
}

int crypto_open(const unsigned char key[CRYPTO_KEY_BYTES], const unsigned char *ad, size_t adlen,
                const unsigned char *c, size_t clen, unsigned char *out)
{
	unsigned long long mlen;
	if (!c || clen < CRYPTO_SEAL_OVERHEAD)
		return -1;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, c + CRYPTO_NONCE_BYTES,
	                                                  clen - CRYPTO_NONCE_BYTES, ad, adlen, c,
	                                                  key) == 0 ? 0 : -1;
}

/* ---- hashes and ids ------------------------------------------------------- */

void crypto_conversation_hash(const unsigned char lookup_key[CRYPTO_KEY_BYTES], const char *tenant,
                              const char *conversation_id, size_t len,
                              unsigned char out[CRYPTO_HASH_BYTES])
{
	crypto_generichash_state st;
	static const unsigned char zero = 0;
	crypto_generichash_init(&st, lookup_key, CRYPTO_KEY_BYTES, CRYPTO_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)tenant, strlen(tenant));
	crypto_generichash_update(&st, &zero, 1);
	crypto_generichash_update(&st, (const unsigned char *)conversation_id, len);
	crypto_generichash_final(&st, out, CRYPTO_HASH_BYTES);
	sodium_memzero(&st, sizeof st);
}

/* Time-ordered like UUIDv7: 40 bits of the millisecond clock (wrapping
 * every 35 years) then 56 random bits, so ids inserted together sit
 * together in the unique index (a random id dirties a random index page
 * per record: ~35% fewer records per second under load). Ids stay
 * unguessable; they reveal only the ingest time, which is stored anyway. */
void crypto_record_id(char out[RD_RECORD_ID_LEN + 1])
{
	unsigned char r[(RD_RECORD_ID_LEN - 2) / 2];
	uint64_t ms = (uint64_t)util_now_ms();
	for (int i = 4; i >= 0; i--, ms >>= 8)
		r[i] = (unsigned char)(ms & 0xff);
	public_random(r + 5, sizeof r - 5);
	out[0] = 'm';
	out[1] = '_';
	sodium_bin2hex(out + 2, RD_RECORD_ID_LEN - 1, r, sizeof r);
	sodium_memzero(r, sizeof r);
}

void crypto_token_hash(const char *token, size_t len, unsigned char out[32])
{
	crypto_hash_sha256(out, (const unsigned char *)token, len);
}

/* ---- leftovers of an interrupted rotation ---------------------------------- */

/* Zeroes a regular file's bytes in place and syncs them (not through a
 * symbolic link: that is only unlinked). Best effort: a journalling or
 * flash filesystem may keep older copies of the blocks. */
static void wipe_file(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		static const unsigned char zeros[4096];
		off_t left = sb.st_size;
		while (left > 0) {
			size_t n = left < (off_t)sizeof zeros ? (size_t)left : sizeof zeros;
			if (write_all(fd, zeros, n) != 0)
				break;
			left -= (off_t)n;
		}
		(void)fsync(fd);
	}
	close(fd);
}

/* "<base>.tmp-" and the six characters mkostemp put there. */
static bool is_key_temp(const char *name, const char *base, size_t blen)
{
	return !strncmp(name, base, blen) && !strncmp(name + blen, ".tmp-", 5) &&
	       strlen(name + blen + 5) == 6;
}

int keyring_clean_temps(const char *key_file)
{
	char dir[4096];
	const char *slash = strrchr(key_file, '/'), *base = slash ? slash + 1 : key_file;
	size_t dlen = slash ? (size_t)(slash - key_file) : 0;
	if (!strncmp(key_file, UTIL_CREDENTIAL_PREFIX, sizeof UTIL_CREDENTIAL_PREFIX - 1) || !*base ||
	    dlen >= sizeof dir)
		return 0;
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (dlen == 0)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)dlen, key_file);
	DIR *d = opendir(dir);
	if (!d)
		return 0;   /* no directory, no leftovers; loading the key reports the rest */
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_key_temp(e->d_name, base, strlen(base)))
			continue;
		wipe_file(dirfd(d), e->d_name);
		if (unlinkat(dirfd(d), e->d_name, 0) != 0) {
			log_warn("keys: cannot remove %s/%s, left by an interrupted key rotation: %s", dir,
			         e->d_name, strerror(errno));
			continue;
		}
		log_warn("keys: wiped and removed %s/%s, left by an interrupted key rotation", dir,
		         e->d_name);
		n++;
	}
	closedir(d);
	if (n)
		sync_parent(key_file);
	return n;
}
