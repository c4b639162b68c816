#!/usr/bin/env python3
"""Which B-trees a group commit writes: WAL frames per commit, by owner.

Replays COMMITS transactions of PER chat-like records each (one subject link
every fifth record, a new conversation every tenth, row sizes copied from
the newest stored record) on a copy of a redactd database, with the WAL
never checkpointed, then reads the page number of every frame in the WAL
and names the table or index it belongs to (dbstat, before and after).
This is what each commit costs on disk beyond the rows themselves.

Usage: python3 bench/wal_frames.py DB [COMMITS] [PER] [--no-subjects] [--drop INDEX]...
DB is copied (to DB.frames); a database written by bench/ingest.sh or
bench/soak.sh will do.
"""
import collections, os, random, shutil, sqlite3, struct, sys

args = sys.argv[1:]
if not args:
    sys.exit(__doc__)
src = args.pop(0)
nums = [a for a in args if a.isdigit()]
commits = int(nums[0]) if nums else 50
per = int(nums[1]) if len(nums) > 1 else 13
subjects = "--no-subjects" not in args
drop = [args[i + 1] for i, a in enumerate(args) if a == "--drop"]

db = src + ".frames"
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
shutil.copy(src, db)
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA synchronous=NORMAL")
c.execute("PRAGMA secure_delete=ON")
c.execute("PRAGMA wal_autocheckpoint=0")
for name in drop:
    c.execute("DROP INDEX " + name)   # an index name of ours, from the command line
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
before = dict(c.execute("SELECT pageno, name FROM dbstat"))
row = c.execute("SELECT tenant, ts_ms, role, channel, category, key_id, length(conv_ct),"
                " length(text_ct), length(meta_ct), entity_counts FROM messages"
                " ORDER BY id DESC LIMIT 1").fetchone()
mid = c.execute("SELECT max(id) FROM messages").fetchone()[0]
ts, k, conv = row[1], 0, os.urandom(32)
for _ in range(commits):
    c.execute("BEGIN IMMEDIATE")
    for _ in range(per):
        mid += 1; k += 1; ts += 1
        if k % 10 == 0:
            conv = os.urandom(32)
        c.execute("INSERT INTO messages (id, record_id, tenant, conv_hash, ts_ms, received_ms, role,"
                  " channel, category, key_id, conv_ct, text_ct, meta_ct, entity_counts)"
                  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  (mid, "m_%010x%014x" % (ts, random.getrandbits(56)), row[0], conv, ts, ts,
                   row[2], row[3], row[4], row[5], os.urandom(row[6]), os.urandom(row[7]),
                   os.urandom(row[8]), row[9]))
        if subjects and k % 5 == 0:
            c.execute("INSERT OR IGNORE INTO subjects (subject_hash, tenant, conv_hash) VALUES (?,?,?)",
                      (os.urandom(32), row[0], conv))
    c.execute("COMMIT")
wal = open(db + "-wal", "rb").read()
size = struct.unpack(">I", wal[8:12])[0]
frames, off = [], 32
while off + 24 + size <= len(wal):
    frames.append(struct.unpack(">I", wal[off:off + 4])[0])
    off += 24 + size
c.execute("PRAGMA wal_checkpoint(PASSIVE)")
after = dict(c.execute("SELECT pageno, name FROM dbstat"))
owners = collections.Counter(
    (before[p] if p in before else after.get(p, "?") + " (new pages)") if p != 1 else "page 1 (header)"
    for p in frames)
print(f"{len(frames)} WAL frames for {commits} commits of {per} records:"
      f" {len(frames) / commits:.1f} a commit, {len(frames) / (commits * per):.2f} a record")
for name, n in owners.most_common():
    print(f"  {n / commits:5.2f} a commit  {name}")
c.close()
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
