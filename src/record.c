/*
 * record.c — sealing and opening a record's fields (see record.h).
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

unsigned char *record_seal(const unsigned char key[CRYPTO_KEY_BYTES], enum crypto_field field,
                           const struct store_record *rec, const void *m, size_t mlen,
                           size_t *outlen)
{
	unsigned char ad[CRYPTO_AD_MAX];
	struct crypto_ad_row a;
	store_record_ad(rec, &a);
	size_t adlen = crypto_ad_build(ad, field, &a);
	unsigned char *out = adlen ? malloc(mlen + CRYPTO_SEAL_OVERHEAD) : NULL;
	if (!out)
		return NULL;
	crypto_seal(key, ad, adlen, m, mlen, out);
	*outlen = mlen + CRYPTO_SEAL_OVERHEAD;
	return out;
}

char *record_open(const unsigned char key[CRYPTO_KEY_BYTES], int format, enum crypto_field field,
                  const struct store_row *row, const unsigned char *c, size_t clen)
{
	if (clen < CRYPTO_SEAL_OVERHEAD)
		return NULL;
	unsigned char ad[CRYPTO_AD_MAX];
	struct crypto_ad_row a;
	store_row_ad(row, &a);
	size_t adlen = format == 1 ? crypto_ad_build_v1(ad, field, &a) : crypto_ad_build(ad, field, &a);
	if (!adlen)
		return NULL;
	size_t mlen = clen - CRYPTO_SEAL_OVERHEAD;
	char *out = malloc(mlen + 1);
	if (!out)
		return NULL;
	if (crypto_open(key, ad, adlen, c, clen, (unsigned char *)out)) {
		free(out);
		return NULL;
	}
	out[mlen] = '\0';
	return out;
}

bool record_id_valid(const char *id)
{
	if (strlen(id) != RD_RECORD_ID_LEN || strncmp(id, "m_", 2) != 0)
		return false;
	for (const char *p = id + 2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}
