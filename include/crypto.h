/*
 * crypto.h — master key, derived keys and field sealing (libsodium).
 *
 * Key hierarchy:
 *   master key (32 bytes, file 0600 or systemd credential; locked, wiped)
 *     +-- WRAP subkey (crypto_kdf, context "redactd_") wraps, with
 *     |   XChaCha20-Poly1305 and AD = "rd-dk" || key id:
 *     |     - data keys, one per (tenant, category, month): seal record fields
 *     |     - the root key (key id 0), kept in the database (store_keyring_attach)
 *     +-- FINGERPRINT subkey names the master key without revealing it
 *   root key (the first master key of a database; survives rotations)
 *     +-- subkeys by crypto_kdf_derive_from_key, context "redactd_":
 *           LOOKUP   keyed hash of conversation ids  (crypto_generichash)
 *           SUBJECT  keyed hash of emails/phones      (crypto_generichash)
 *           HASHSTYLE the `hash` redaction style       (crypto_generichash)
 *           AUDIT    keyed hash of audit targets
 *             +-- HOLDS (crypto_kdf id 1, context "rd_holds") seals legal
 *                 holds' documents (holds.c)
 *
 * Rotating the master key re-wraps the data keys and the root key; the keyed
 * hashes stored in the database stay valid because the root does not change.
 *           data key per (tenant, category, month) seals record fields
 *
 * Every record field is sealed with XChaCha20-Poly1305 and associated data
 * binding it to its row (see crypto_ad_build), so a ciphertext moved to
 * another row, field or key fails to open, and so does a row whose role,
 * channel, category or time was edited.
 */
#ifndef REDACTD_CRYPTO_H
#define REDACTD_CRYPTO_H

#include "redactd.h"

#define CRYPTO_KEY_BYTES      32
#define CRYPTO_NONCE_BYTES    24
#define CRYPTO_TAG_BYTES      16
#define CRYPTO_SEAL_OVERHEAD  (CRYPTO_NONCE_BYTES + CRYPTO_TAG_BYTES)
#define CRYPTO_WRAPPED_BYTES  (CRYPTO_KEY_BYTES + CRYPTO_SEAL_OVERHEAD)
#define CRYPTO_HASH_BYTES     32

enum crypto_subkey {
	SUBKEY_LOOKUP = 1, SUBKEY_SUBJECT = 2, SUBKEY_HASHSTYLE = 3, SUBKEY_AUDIT = 4,
	/* These two derive from the master key itself, never from the root;
	 * keyring_subkey does not hand them out. */
	SUBKEY_WRAP = 5,          /* keyring_wrap/unwrap */
	SUBKEY_FINGERPRINT = 6,   /* keyring_fingerprint */
	/* Derived from AUDIT (id 1, context "rd_holds"), as holds have always
	 * been sealed: separate from every key that seals or hashes records.
	 * Not a crypto_kdf id of the root: the value only names it. */
	SUBKEY_HOLDS = 7,
};

/* Fields of a record, each sealed under its own associated data. */
enum crypto_field { FIELD_CONVERSATION = 'c', FIELD_TEXT = 't', FIELD_META = 'm' };

struct keyring;

/* sodium_init once; -1 if libsodium cannot start. */
int crypto_global_init(void) RD_WARN_UNUSED;

/*
 * Load a master key from `spec`: a path to a 32-byte file that must not be
 * readable by group or others, or "credential:NAME" read from
 * $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential). The key is held in
 * sodium_malloc'd, mlocked memory. -1 with err on any problem.
 */
int keyring_load(const char *spec, struct keyring **out, char *err, size_t errlen) RD_WARN_UNUSED;
void keyring_free(struct keyring *kr);   /* NULL is a no-op; wipes */

/* Derived subkey (from the root key) into out (caller wipes it when done). */
void keyring_subkey(const struct keyring *kr, enum crypto_subkey which,
                    unsigned char out[CRYPTO_KEY_BYTES]);

/* A public name for the master key (keyed hash of a derived subkey): equal
 * fingerprints mean the same master key. Safe to log in hex. */
void keyring_fingerprint(const struct keyring *kr, unsigned char out[CRYPTO_HASH_BYTES]);

/* Wrap / unwrap a data key with the master key (its WRAP subkey); AD binds
 * the key id. unwrap returns -1 for another master key or a tampered blob. */
int keyring_wrap(const struct keyring *kr, int64_t key_id, const unsigned char dk[CRYPTO_KEY_BYTES],
                 unsigned char out[CRYPTO_WRAPPED_BYTES]) RD_WARN_UNUSED;
int keyring_unwrap(const struct keyring *kr, int64_t key_id, const unsigned char *wrapped,
                   size_t wlen, unsigned char dk[CRYPTO_KEY_BYTES]) RD_WARN_UNUSED;

/* Key id 0 is reserved for the root key (data key ids start at 1). */
#define CRYPTO_ROOT_KEY_ID 0

/* The keyring's root key wrapped by its master key (stored by the store). */
int keyring_wrap_root(const struct keyring *kr, unsigned char out[CRYPTO_WRAPPED_BYTES])
	RD_WARN_UNUSED;
/* Unwrap a stored root key with kr's master key and derive subkeys from it
 * from now on. -1 if it does not open (another master key): kr unchanged. */
int keyring_load_root(struct keyring *kr, const unsigned char *wrapped, size_t wlen) RD_WARN_UNUSED;

/* Write 32 random bytes to a new file with mode 0600; refuses to overwrite
 * (O_EXCL). -1 with err on failure. */
int crypto_keygen_file(const char *path, char *err, size_t errlen) RD_WARN_UNUSED;

/* Replace the file at path with kr's master key, atomically: a 0600
 * temporary file in the same directory (owned like the old file when run
 * as root), fsync, rename over path, fsync the directory. A crash leaves
 * the old key or the new one, never a torn file. -1 with err. */
int keyring_save(const struct keyring *kr, const char *path, char *err, size_t errlen)
	RD_WARN_UNUSED;

/* What the associated data of a record's fields binds (crypto_ad_build):
 * every column of its row that says what the record is and how long it is
 * kept. role and channel are the stored names ("user", "web"), so a row
 * edited to a name the daemon does not know fails too. */
struct crypto_ad_row {
	int64_t key_id;
	const char *tenant;
	const unsigned char *conv_hash;      /* CRYPTO_HASH_BYTES */
	const char *record_id;
	const char *role, *channel, *category;
	int64_t ts_ms;
};

/* Longest role or channel name the AD takes. */
#define CRYPTO_AD_NAME_MAX 16
#define CRYPTO_AD_MAX (64 + 2 * RD_MAX_NAME_LEN + CRYPTO_HASH_BYTES + RD_RECORD_ID_LEN + \
                       2 * CRYPTO_AD_NAME_MAX)

/* An interrupted keyring_save leaves "<key_file>.tmp-XXXXXX" beside the
 * key, holding key material. Overwrites each with zeros, fsyncs and
 * unlinks it, and logs its path (never its content). Nothing for a
 * credential:NAME key_file. Returns how many were removed. */
int keyring_clean_temps(const char *key_file);

/*
 * Associated data for one field of one record (format 2, SPEC 2.2):
 * "rd2" || field || key_id(8, BE) || tenant || 0 || conv_hash(32) ||
 * record_id || 0 || role || 0 || channel || 0 || category || 0 || ts_ms(8, BE).
 * A ciphertext moved to another row, field or key, or a row whose tenant,
 * role, channel, category or time was edited, fails to open.
 * Returns its length (<= CRYPTO_AD_MAX), or 0 when a value is too long
 * (a row edited in the database: treat as failing to open).
 */
size_t crypto_ad_build(unsigned char out[CRYPTO_AD_MAX], enum crypto_field field,
                       const struct crypto_ad_row *row);

/*
 * Format 1, before issue 11: "rd1" || field || key_id(8, BE) || tenant || 0
 * || conv_hash(32) || record_id. Only for re-sealing rows of older
 * databases (store_keyring_attach) and reading backups not migrated yet.
 */
size_t crypto_ad_build_v1(unsigned char out[CRYPTO_AD_MAX], enum crypto_field field,
                          const struct crypto_ad_row *row);

/* Seal m into out (mlen + CRYPTO_SEAL_OVERHEAD bytes: nonce || ciphertext || tag). */
void crypto_seal(const unsigned char key[CRYPTO_KEY_BYTES], const unsigned char *ad, size_t adlen,
                 const void *m, size_t mlen, unsigned char *out);
/* Open c (clen bytes) into out (clen - CRYPTO_SEAL_OVERHEAD bytes). -1 if it
 * does not authenticate: tampered, moved to another row, or wrong key. */
int crypto_open(const unsigned char key[CRYPTO_KEY_BYTES], const unsigned char *ad, size_t adlen,
                const unsigned char *c, size_t clen, unsigned char *out) RD_WARN_UNUSED;

/* Keyed hash of a conversation id within a tenant (lookup without storing it). */
void crypto_conversation_hash(const unsigned char lookup_key[CRYPTO_KEY_BYTES], const char *tenant,
                              const char *conversation_id, size_t len,
                              unsigned char out[CRYPTO_HASH_BYTES]);

/* Record id "m_" + 24 hex digits into out (RD_RECORD_ID_LEN + 1 bytes):
 * 40 bits of the millisecond clock then 56 random bits (time-ordered, as
 * UUIDv7, so the unique index is appended to rather than written at random). */
void crypto_record_id(char out[RD_RECORD_ID_LEN + 1]);

/* SHA-256 of a bearer token, for comparison with [token] sha256. */
void crypto_token_hash(const char *token, size_t len, unsigned char out[32]);

#endif
