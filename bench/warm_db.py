#!/usr/bin/env python3
"""Put a database file into the page cache the way a running daemon does.

Usage: python3 bench/warm_db.py FILE

`cat FILE > /dev/null` (or cp, rsync, any sequential read) fills the page
cache through readahead, which on this kernel (6.18, ext4) makes large
folios; every 4 KB page SQLite's checkpoint then writes into such a folio
walks all of its block buffers (ext4_block_write_begin, 16 % of the
daemon's samples at 11.7 M records). The daemon's own reads are 4 KB
preads at random places, which make small folios. This drops the file's
cached pages (they must be clean: run it with no daemon on the file) and
reads it back 4 KB at a time with readahead off, so a benchmark on a large
database measures what a long-running daemon sees (BENCHMARKS.md, issue 16,
fourth session). 15 GB takes about 5.5 minutes from disk.
"""
import os
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    fd = os.open(sys.argv[1], os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        size = os.fstat(fd).st_size
        for off in range(0, size, 4096):
            os.pread(fd, 4096, off)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
