/*
 * restrict.h — restriction of processing (GDPR Art. 18; issue 17).
 *
 * A restriction pins one conversation, or every conversation a subject is
 * linked to (by keyed hash, like a legal hold: holds.h does the adding,
 * lifting and listing, HOLDS_PIN_RESTRICTION, with audit entries
 * restrict.add / restrict.remove / restrict.list; the rows live in
 * store_restrict.h). While it stands, reads of those conversations by a
 * token without the admin scope are refused with RD_E_RESTRICTED (403
 * "restricted"); an admin read goes on and leaves a `read.restricted`
 * audit entry besides its `read`. Nothing else changes: ingest, retention,
 * holds and erasure treat restricted records as any other.
 */
#ifndef REDACTD_RESTRICT_H
#define REDACTD_RESTRICT_H

#include "app.h"

/*
 * Before a read of conversation_id in tenant by actor: 0 when it may go
 * on (not restricted; or restricted and admin, then audited), -1 with e
 * (RD_E_RESTRICTED, or the store's error: a read is not let through when
 * the check cannot be made).
 */
int restrict_check_read(struct app *app, const struct app_snap *snap, const char *tenant,
                        const char *conversation_id, bool admin, const char *actor,
                        struct rd_error *e) RD_WARN_UNUSED;

#endif
