/*
 * store_pg_dist.h — every table of the PostgreSQL schema, and how Citus
 * holds it (issue 19). A table distributed by tenant has a distribution
 * column (tenant, or chain for the audit log, whose chains are named by
 * their tenant) that every primary key and unique index includes; the
 * others are reference tables (small, system-wide: the schema version, the
 * root key, the journal's mark, migrate's state, the category numbers).
 * tests/unit/test_store_pg_schema.c reads the catalogue and fails on a
 * table in neither list, or a unique index without its distribution
 * column: a new table cannot be forgotten.
 */
#ifndef REDACTD_STORE_PG_DIST_H
#define REDACTD_STORE_PG_DIST_H

#include <stddef.h>

struct store_pg_dist_table {
	const char *name;
	const char *dist_column;   /* NULL: a reference table */
};

/* Distributed ones first, messages first of all (the others are
 * co-located with it). */
extern const struct store_pg_dist_table store_pg_dist_tables[];
extern const size_t store_pg_ndist_tables;

#endif
