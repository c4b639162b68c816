/*
 * store_bench.c — group-commit throughput of the store, without HTTP.
 *
 * N threads each loop for D seconds: take the data key, seal a ~1 KB text
 * (plus conversation id and metadata) for each of B records, store_submit
 * them and wait for the commit. Prints records/s and submit latency
 * percentiles. Usage:
 *   store_bench DB_PATH THREADS RECORDS_PER_SUBMIT SECONDS [normal]
 */
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_B 64
#define TEXT_BYTES 1000
#define MAX_SAMPLES 2000000

static struct store *st;
static struct keyring *kr;
static unsigned char lookup[CRYPTO_KEY_BYTES];
static int per_submit, seconds;
static atomic_bool stop;
static atomic_long records, busy;
static double *lat;          /* submit latencies, us */
static atomic_long nlat;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct rec_buf {
	struct store_record r;
	unsigned char conv[64], text[TEXT_BYTES + CRYPTO_SEAL_OVERHEAD], meta[64];
};

static void seal(const unsigned char *key, enum crypto_field f, struct store_record *r,
                 const void *m, size_t mlen, unsigned char *out)
{
	unsigned char ad[CRYPTO_AD_MAX];
	struct crypto_ad_row a;
	store_record_ad(r, &a);
	size_t adlen = crypto_ad_build(ad, f, &a);
	crypto_seal(key, ad, adlen, m, mlen, out);
}

static int fill(struct rec_buf *b, int thread, long i, const char *text)
{
	unsigned char key[CRYPTO_KEY_BYTES];
	char conv[32];
	struct store_record *r = &b->r;
	int n = snprintf(conv, sizeof conv, "bench-%d-%ld", thread, i / 10);
	memset(r, 0, sizeof *r);
	crypto_record_id(r->id);
	r->tenant = "default";
	r->category = "chat_transcript";
	r->ts_ms = r->received_ms = util_now_ms();
	crypto_conversation_hash(lookup, r->tenant, conv, (size_t)n, r->conv_hash);
	if (store_data_key_for(st, kr, r->tenant, r->category, r->ts_ms, &r->key_id, key))
		return -1;
	seal(key, FIELD_CONVERSATION, r, conv, (size_t)n, b->conv);
	seal(key, FIELD_TEXT, r, text, TEXT_BYTES, b->text);
	seal(key, FIELD_META, r, "{\"metadata\":{},\"findings\":[]}", 30, b->meta);
	sodium_memzero(key, sizeof key);
	r->conv_ct = b->conv;
	r->conv_ct_len = (size_t)n + CRYPTO_SEAL_OVERHEAD;
	r->text_ct = b->text;
	r->text_ct_len = sizeof b->text;
	r->meta_ct = b->meta;
	r->meta_ct_len = 30 + CRYPTO_SEAL_OVERHEAD;
	r->entity_counts = "{\"EMAIL\":1,\"PHONE\":1}";
	return 0;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct rec_buf *b = calloc(MAX_B, sizeof *b);
	struct store_record recs[MAX_B];
	char text[TEXT_BYTES];
	memset(text, 'x', sizeof text);
	for (long i = 0; b && !atomic_load(&stop); i++) {
		for (int k = 0; k < per_submit; k++) {
			if (fill(&b[k], id, i, text))
				goto done;
			recs[k] = b[k].r;
		}
		double t0 = now_us();
		int rc = store_submit(st, recs, (size_t)per_submit);
		double dt = now_us() - t0;
		if (rc == RD_E_BUSY) {
			atomic_fetch_add(&busy, 1);
			usleep(200);
			continue;
		}
		if (rc != RD_OK) {
			fprintf(stderr, "submit failed: %d\n", rc);
			break;
		}
		atomic_fetch_add(&records, per_submit);
		long slot = atomic_fetch_add(&nlat, 1);
		if (slot < MAX_SAMPLES)
			lat[slot] = dt;
	}
done:
	free(b);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long threads;
	char err[256];
	if (argc < 5 || util_parse_long(argv[2], 1, 1024, &threads) || crypto_global_init()) {
		fprintf(stderr, "usage: store_bench DB THREADS RECORDS_PER_SUBMIT SECONDS [normal]\n");
		return 2;
	}
	long v;
	if (util_parse_long(argv[3], 1, MAX_B, &v))
		return 2;
	per_submit = (int)v;
	if (util_parse_long(argv[4], 1, 3600, &v))
		return 2;
	seconds = (int)v;
	char keyp[4200];
	snprintf(keyp, sizeof keyp, "%s.key", argv[1]);
	unlink(keyp);
	if (crypto_keygen_file(keyp, err, sizeof err) || keyring_load(keyp, &kr, err, sizeof err)) {
		fprintf(stderr, "key: %s\n", err);
		return 1;
	}
	keyring_subkey(kr, SUBKEY_LOOKUP, lookup);
	struct store_options o = { .sync_full = !(argc > 5 && !strcmp(argv[5], "normal")),
	                           .queue_size = 65536, .batch_max = 4096 };
	if (store_open(argv[1], &o, &st, err, sizeof err)) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	lat = calloc(MAX_SAMPLES, sizeof *lat);
	pthread_t th[1024];
	double t0 = now_us();
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	sleep((unsigned)seconds);
	atomic_store(&stop, true);
	for (long i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double el = (now_us() - t0) / 1e6;
	long n = atomic_load(&nlat) < MAX_SAMPLES ? atomic_load(&nlat) : MAX_SAMPLES;
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("sync=%s threads=%ld per_submit=%d records=%ld records/s=%.0f submits/s=%.0f "
	       "p50_us=%.0f p99_us=%.0f busy=%ld\n", o.sync_full ? "full" : "normal", threads,
	       per_submit, atomic_load(&records), atomic_load(&records) / el, n / el,
	       n ? lat[n / 2] : 0, n ? lat[n * 99 / 100] : 0, atomic_load(&busy));
	struct store_counters sc;
	store_get_counters(st, &sc);
	printf("    commits=%llu records/commit=%.1f\n", (unsigned long long)sc.commits,
	       sc.commits ? (double)sc.records / (double)sc.commits : 0.0);
	store_close(st);
	keyring_free(kr);
	sodium_memzero(lookup, sizeof lookup);
	free(lat);
	unlink(keyp);
	return 0;
}
