#!/usr/bin/env python3
"""lint.py — the layering rules of issue 13, checked on the source tree.

  1. Only the store speaks SQL. Outside src/store*.c and src/store*.h, no
     file of src/ or include/ includes <sqlite3.h>, names a sqlite3 symbol
     (sqlite3_*, struct sqlite3, SQLITE_*), or has SQL in a string literal
     (SELECT, INSERT INTO, UPDATE .. SET, DELETE FROM, CREATE TABLE/INDEX/
     TRIGGER, DROP, ALTER TABLE, PRAGMA). Comments may mention them.
  2. No include cycle between modules. A module is a name with a header in
     include/ (store, audit, holds, ...); a file belongs to the module whose
     name is the shortest '_'-separated prefix of its own that has a header
     (src/http_admin.c and include/http_internal.h are http, every store*
     file is store). Module X depends on Y when a file of X includes Y's
     header or any header of Y; a cycle is a set of modules that reach each
     other through those edges, directly or transitively.

Usage: tools/lint.py [ROOT]   (default: the current directory). Prints
every finding as FILE:LINE: what, and exits 1 if there is any.
"""
import os
import re
import sys

SQL_IN_STRING = re.compile(
    r"\b(SELECT\b|INSERT\s+(INTO|OR)\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
    r"CREATE\s+(TABLE|INDEX|UNIQUE\s+INDEX|TRIGGER|VIEW)\b|DROP\s+(TABLE|INDEX|TRIGGER)\b|"
    r"ALTER\s+TABLE\b|PRAGMA\s+\w+)")
SQLITE_SYMBOL = re.compile(r"\bsqlite3_\w+|\bstruct\s+sqlite3\b|\bsqlite3\s*\*|\bSQLITE_[A-Z_]+")
SQLITE_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]sqlite3\.h[>"]', re.M)
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def split_code(text):
    """(code with comments blanked, [(line, literal)]) of a C file."""
    literals = []
    out = []
    pos = 0
    for m in TOKEN.finditer(text):
        out.append(text[pos:m.start()])
        tok = m.group(0)
        if tok.startswith('"'):
            literals.append((text.count("\n", 0, m.start()) + 1, tok[1:-1]))
            out.append('""')
        elif tok.startswith("'"):
            out.append("' '")
        else:   # a comment: keep its newlines so line numbers hold
            out.append("\n" * tok.count("\n") or " ")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), literals


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def is_store(path):
    return os.path.basename(path).startswith("store")


def sql_findings(root, files):
    found = []
    for rel in files:
        if rel.startswith("src/") and is_store(rel):
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        code, literals = split_code(text)
        for m in SQLITE_INCLUDE.finditer(text):
            found.append(f"{rel}:{line_of(text, m.start())}: includes <sqlite3.h> outside the store")
        syms = list(SQLITE_SYMBOL.finditer(code))
        if syms:   # the first, and how many: one line per file
            m = syms[0]
            more = f" (and {len(syms) - 1} more in this file)" if len(syms) > 1 else ""
            found.append(f"{rel}:{line_of(code, m.start())}: SQLite symbol '{m.group(0).strip()}'"
                         f" outside the store{more}")
        # Adjacent literals make one string: join each run of them.
        runs, last = [], None
        for line, lit in literals:
            if last is not None and line - last <= 1 and runs:
                runs[-1] = (runs[-1][0], runs[-1][1] + lit)
            else:
                runs.append((line, lit))
            last = line
        for line, lit in runs:
            m = SQL_IN_STRING.search(lit)
            if m:
                found.append(f"{rel}:{line}: SQL in a string ('{m.group(0)}') outside the store")
    return found


def module_of(root, name):
    parts = name.split("_")
    for i in range(1, len(parts) + 1):
        prefix = "_".join(parts[:i])
        if os.path.exists(os.path.join(root, "include", prefix + ".h")):
            return prefix
    return name


def include_cycles(root, files):
    edges = {}
    where = {}
    for rel in files:
        base = os.path.splitext(os.path.basename(rel))[0]
        mod = module_of(root, base)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            hdr = os.path.basename(m.group(1))
            if not hdr.endswith(".h"):
                continue
            if not (os.path.exists(os.path.join(root, "include", hdr)) or
                    os.path.exists(os.path.join(root, "src", hdr))):
                continue
            dep = module_of(root, hdr[:-2])
            if dep == mod:
                continue
            edges.setdefault(mod, set()).add(dep)
            where.setdefault((mod, dep), f"{rel}:{line_of(text, m.start())}")
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    nodes = sorted(set(edges) | {d for ds in edges.values() for d in ds})

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    found = []
    for comp in sccs:
        inside = [f"{a} -> {b} ({where[(a, b)]})" for a in comp for b in sorted(edges.get(a, ()))
                  if b in comp]
        found.append("include cycle between modules " + ", ".join(comp) + ": " + "; ".join(inside))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = []
    for d in ("src", "include"):
        for name in sorted(os.listdir(os.path.join(root, d))):
            if name.endswith((".c", ".h")):
                files.append(f"{d}/{name}")
    found = sql_findings(root, files) + include_cycles(root, files)
    for f in found:
        print(f)
    print(f"lint: {len(files)} files, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
