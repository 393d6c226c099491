#!/usr/bin/env python3
"""tests/layering.py - the floors of the code, checked (docs/layout.md).

Folders form floors, lowest first:

    stun < auth < turn < cluster < edge/base < edge/config < edge/net
         < edge/redis < edge/admin < edge (main.c and the files beside it)

and tools/ stands beside edge/ on stun/ and cluster/ only. A file may use
its own floor and the floors below it, never one above. Checked two ways:

  * includes: every #include "..." of every .c and .h file;
  * calls: with a build directory, `nm` of every object file: a symbol a
    file uses (U) and another file defines (T, D, B, R) is an arrow from
    the first to the second.

Also checked: a folder's private header (*_int.h) is included only inside
its folder; no circle between files of edge/ (arrows from nm, strongly
connected components); tools never include or link edge/.

Known exceptions live in tests/layering-exceptions.txt, one per line
("FROM -> TO  why"); there may be at most MAX_EXCEPTIONS of them, and
each must still be needed.

Usage: tests/layering.py [BUILD_DIR]   (exit 0 clean, 1 violations)
"""
import collections
import glob
import os
import re
import subprocess
import sys

ROOT = os.environ.get("LAYERING_ROOT") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
FLOORS = ["stun", "auth", "turn", "cluster", "edge/base", "edge/config",
          "edge/net", "edge/redis", "edge/admin", "edge"]
TOOLS_MAY_USE = {"stun", "cluster", "tools"}
MAX_EXCEPTIONS = 3
SOURCE_DIRS = ["stun", "auth", "turn", "cluster", "edge", "tools"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def floor_of(path):
    """The floor a repository path belongs to, or None outside them."""
    if path.startswith("tools/"):
        return "tools"
    best = None
    for f in FLOORS:
        if path.startswith(f + "/") and (best is None or len(f) > len(best)):
            best = f
    return best


def rank(floor):
    return FLOORS.index(floor)


def allowed(src, dst):
    """May a file of floor src use one of floor dst?"""
    if src == "tools" or dst == "tools":
        return src == "tools" and dst in TOOLS_MAY_USE
    return rank(dst) <= rank(src)


def sources():
    out = []
    for d in SOURCE_DIRS:
        for ext in ("c", "h"):
            out += glob.glob(os.path.join(ROOT, d, "**", "*." + ext),
                             recursive=True)
    return sorted(os.path.relpath(p, ROOT) for p in out)


def include_arrows():
    """(from, to, what) for every include of a repository file."""
    arrows = []
    for path in sources():
        with open(os.path.join(ROOT, path), errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            if os.path.exists(os.path.join(ROOT, inc)):
                arrows.append((path, inc, "#include"))
            else:  # relative to the including file
                rel = os.path.normpath(os.path.join(os.path.dirname(path), inc))
                if os.path.exists(os.path.join(ROOT, rel)):
                    arrows.append((path, rel, "#include"))
    return arrows


def call_arrows(build):
    """(from, to, symbols) from the object files of a CMake build."""
    defs, uses = {}, collections.defaultdict(set)
    objs = glob.glob(os.path.join(build, "**", "*.dir", "**", "*.c.o"),
                     recursive=True)
    for obj in objs:
        src = obj.split(".dir" + os.sep, 1)[1][:-2]
        if not os.path.exists(os.path.join(ROOT, src)):
            continue  # generated (the dashboard table) or stale
        if floor_of(src) is None:
            continue  # tests, fuzz targets, benchmarks
        nm = subprocess.run(["nm", obj], capture_output=True, text=True)
        for line in nm.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                uses[src].add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBRV":
                defs.setdefault(parts[2], src)
    by_pair = collections.defaultdict(set)
    for src, syms in uses.items():
        for s in syms:
            dst = defs.get(s)
            if dst and dst != src:
                by_pair[(src, dst)].add(s)
    return [(a, b, " ".join(sorted(s))) for (a, b), s in by_pair.items()]


def cycles(arrows):
    """Strongly connected components of more than one file."""
    graph = collections.defaultdict(set)
    for a, b, _ in arrows:
        graph[a].add(b)
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def private_header_owner(path):
    """A *_int.h belongs to its folder (edge/net/worker_int.h: edge/net)."""
    return os.path.dirname(path) if path.endswith("_int.h") else None


def load_exceptions():
    path = os.path.join(ROOT, "tests", "layering-exceptions.txt")
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                m = re.match(r"(\S+)\s*->\s*(\S+)\s*(.*)", line)
                if m:
                    out[(m.group(1), m.group(2))] = m.group(3)
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    arrows = include_arrows()
    if build:
        if not glob.glob(os.path.join(build, "**", "*.c.o"), recursive=True):
            print("layering: no object files under %s" % build)
            return 1
        arrows += call_arrows(build)
    exceptions = load_exceptions()
    used = set()
    problems = []
    for a, b, what in arrows:
        fa, fb = floor_of(a), floor_of(b)
        if fa is None or fb is None:
            continue
        owner = private_header_owner(b)
        if owner and os.path.dirname(a) != owner:
            problems.append("%s -> %s: private header of %s/ (%s)"
                            % (a, b, owner, what))
        if not allowed(fa, fb):
            if (a, b) in exceptions:
                used.add((a, b))
                continue
            problems.append("%s -> %s: %s uses %s, which is above it (%s)"
                            % (a, b, fa, fb, what))
    if build:
        edge = [x for x in arrows if x[0].startswith("edge/")
                and x[1].startswith("edge/") and x[2] != "#include"]
        for comp in cycles(edge):
            problems.append("circle between files: " + " <-> ".join(comp))
    if len(exceptions) > MAX_EXCEPTIONS:
        problems.append("%d exceptions in tests/layering-exceptions.txt; "
                        "at most %d" % (len(exceptions), MAX_EXCEPTIONS))
    for pair in sorted(set(exceptions) - used):
        problems.append("exception no longer needed: %s -> %s" % pair)
    for p in sorted(set(problems)):
        print("layering:", p)
    nfiles = len({a for a, _, _ in arrows})
    print("layering: %d files, %d arrows (%s), %d exceptions, %d problems"
          % (nfiles, len(arrows), "includes and calls" if build
             else "includes only", len(used), len(set(problems))))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
