/*
 * tenant.h — which tenant a request acts for.
 *
 * Tenant names are 1 to RD_MAX_NAME_LEN bytes of [A-Za-z0-9._-]. A token
 * may be bound to one tenant ([token] tenant, or a webhook source's
 * tenant); a request then acts for that tenant only. The one rule, used by
 * every route that takes a tenant (message bodies, /v1/redact, ?tenant=,
 * holds) and by the CLI's checks of a name.
 */
#ifndef REDACTD_TENANT_H
#define REDACTD_TENANT_H

#include "rd_error.h"

#include <stdbool.h>

bool tenant_valid(const char *t);

/*
 * The tenant for a request that names `requested` (NULL when it names
 * none), made with a token bound to `bound` (NULL when unbound): requested,
 * else bound, else "default". Borrowed from the arguments or static.
 * NULL with e set when the name is not a valid tenant name (error
 * `invalid`: RD_E_INVALID_FIELD in a body, RD_E_INVALID_QUERY in a query)
 * or not the bound tenant (RD_E_FORBIDDEN). `where` prefixes the field in
 * the message ("messages[3]" gives "messages[3].tenant ..."), or NULL.
 */
const char *tenant_resolve(const char *bound, const char *requested, const char *where,
                           enum rd_err invalid, struct rd_error *e) RD_WARN_UNUSED;

#endif
