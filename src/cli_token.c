/*
 * cli_token.c — `redactd token new NAME --scopes LIST [--tenant T]`.
 *
 * Tokens are stored hashed (SPEC 4): the daemon's config holds only the
 * SHA-256 of each. This makes a fresh random one, shows it once and prints
 * its [token] section. The section goes to stdout, so
 * `redactd token new ... >> /etc/redactd/redactd.conf` appends exactly the
 * section; the token itself goes to stderr (the terminal), never into the
 * file. Nothing is stored and no config is read.
 */
#include "cli.h"
#include "crypto.h"
#include "tenant.h"
#include "util.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_BYTES 32   /* 256 bits from libsodium's CSPRNG */

static const char token_help[] =
	"usage: redactd token new NAME --scopes LIST [--tenant T]\n"
	"Makes a new random bearer token (32 bytes from libsodium, base64url) and\n"
	"prints its [token \"NAME\"] section, with the token's SHA-256, on stdout and\n"
	"the token itself, once, on stderr: append stdout to the config, hand the\n"
	"token to the client, then reload the daemon. LIST: ingest, read, admin, metrics\n"
	"(comma-separated). NAME and T: 1 to 64 of A-Z a-z 0-9 . _ -\n";

/* "ingest,read" -> "ingest, read", refusing unknown scopes. */
static int scopes_normalise(const char *in, char *out, size_t outlen)
{
	char copy[128], *save = NULL;
	size_t used = 0;
	if (snprintf(copy, sizeof copy, "%s", in) >= (int)sizeof copy)
		return -1;
	out[0] = '\0';
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (strcmp(t, "ingest") && strcmp(t, "read") && strcmp(t, "admin") && strcmp(t, "metrics"))
			return -1;
		int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", t);
		if (n < 0 || (size_t)n >= outlen - used)
			return -1;
		used += (size_t)n;
	}
	return used ? 0 : -1;
}

static void print_token(const char *name, const char *scopes, const char *tenant)
{
	unsigned char raw[TOKEN_BYTES], digest[32];
	char token[sodium_base64_ENCODED_LEN(TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char hex[65];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(token, sizeof token, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_token_hash(token, strlen(token), digest);
	util_hex_encode(digest, sizeof digest, hex);
	printf("\n[token \"%s\"]\nsha256 = %s\nscopes = %s\n", name, hex, scopes);
	if (tenant)
		printf("tenant = %s\n", tenant);
	fflush(stdout);
	fprintf(stderr, "token for \"%s\" (shown once; only its hash goes in the config):\n%s\n",
	        name, token);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(token, sizeof token);
}

int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scopes", required_argument, 0, 's' }, { "tenant", required_argument, 0, 't' },
		{ "config", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *scopes = NULL, *tenant = NULL;
	char norm[64];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 's': scopes = optarg; break;
		case 't': tenant = optarg; break;
		case 'c': break;   /* accepted for uniformity; no config is read */
		case 'h': fputs(token_help, stdout); return EXIT_OK;
		default: fputs(token_help, stderr); return EXIT_USAGE;
		}
	}
	bool ok = optind + 2 == argc && !strcmp(argv[optind], "new") && tenant_valid(argv[optind + 1]);
	if (!ok || !scopes || scopes_normalise(scopes, norm, sizeof norm) ||
	    (tenant && !tenant_valid(tenant))) {
		fputs(token_help, stderr);
		return EXIT_USAGE;
	}
	if (crypto_global_init()) {
		fprintf(stderr, "redactd token: libsodium failed to initialise\n");
		return EXIT_RUNTIME;
	}
	print_token(argv[optind + 1], norm, tenant);
	return EXIT_OK;
}
