-- bench/pg_parts.sql — what a conversation read pays for partitions by
-- (category, month) (issue 19): the same 200,000 rows (10 tenants, 6
-- categories, 24 months, 5,000 conversations) in m0, partitioned by month
-- (24 partitions), and in m1, by (category, month) (144), each with the
-- conversation index; then the conversation lookup timed on each:
--   createdb pb && psql -d pb -f bench/pg_parts.sql
-- then for T in m0 and m1, a file b_T.sql of two lines,
--   \set c random(0, 4999)
--   SELECT count(*) FROM T WHERE tenant = 't3' AND conv_hash = decode(md5(:c::text), 'hex');
-- run with: pgbench -n -M prepared -T 10 -c 1 -f b_T.sql pb (latency average).
CREATE TABLE m1 (tenant text NOT NULL, category text COLLATE "C" NOT NULL, ts_ms bigint NOT NULL, id bigint NOT NULL, conv_hash bytea NOT NULL, pad bytea,
  PRIMARY KEY (tenant, category, ts_ms, id)) PARTITION BY RANGE (category, ts_ms);
CREATE INDEX ON m1 (tenant, conv_hash, ts_ms, id);
CREATE TABLE m0 (tenant text NOT NULL, category text NOT NULL, ts_ms bigint NOT NULL, id bigint NOT NULL, conv_hash bytea NOT NULL, pad bytea,
  PRIMARY KEY (tenant, ts_ms, id)) PARTITION BY RANGE (ts_ms);
CREATE INDEX ON m0 (tenant, conv_hash, ts_ms, id);
DO $$ DECLARE mo int; c text; lo bigint; hi bigint; BEGIN
 FOR mo IN 0..23 LOOP
  lo := (extract(epoch FROM timestamp '2025-01-01' + make_interval(months => mo)) * 1000)::bigint;
  hi := (extract(epoch FROM timestamp '2025-01-01' + make_interval(months => mo + 1)) * 1000)::bigint;
  EXECUTE format('CREATE TABLE m0_%s PARTITION OF m0 FOR VALUES FROM (%s) TO (%s)', mo, lo, hi);
  FOREACH c IN ARRAY ARRAY['chat','email','lead','call','sms','web'] LOOP
   EXECUTE format('CREATE TABLE m1_%s_%s PARTITION OF m1 FOR VALUES FROM (%L, %s) TO (%L, %s)', mo, c, c, lo, c, hi);
  END LOOP;
 END LOOP; END $$;
INSERT INTO m0 SELECT 't' || (i % 10), (ARRAY['chat','email','lead','call','sms','web'])[1 + i % 6], 1735689600000 + (i::bigint * 300000), i, decode(md5((i % 5000)::text), 'hex'), decode(repeat('ab', 200), 'hex') FROM generate_series(1, 200000) i;
INSERT INTO m1 SELECT * FROM m0;
ANALYZE m0; ANALYZE m1;
