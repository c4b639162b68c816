/*
 * tenant.c — tenant names and the token's binding (see tenant.h).
 */
#include "tenant.h"

#include <string.h>

bool tenant_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > RD_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

const char *tenant_resolve(const char *bound, const char *requested, const char *where,
                           enum rd_err invalid, struct rd_error *e)
{
	const char *t = requested ? requested : bound ? bound : "default";
	const char *dot = where ? "." : "";
	if (!tenant_valid(t)) {
		rd_error_set(e, invalid, "%s%stenant must be 1 to %d of A-Z a-z 0-9 . _ -",
		             where ? where : "", dot, RD_MAX_NAME_LEN);
		return NULL;
	}
	if (bound && strcmp(t, bound) != 0) {
		rd_error_set(e, RD_E_FORBIDDEN, "%s%stenant is not the token's tenant", where ? where : "",
		             dot);
		return NULL;
	}
	return t;
}
