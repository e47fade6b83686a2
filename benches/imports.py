#!/usr/bin/env python3
"""Print runicorn's module import graph: one `from -> to` edge per line, then the
edges that point up the layers `src/lib.rs` documents, then the cycles.

    python3 benches/imports.py            # top-level modules (src/<name>)
    python3 benches/imports.py --deep     # second level too (src/<name>/<sub>)

An edge is any `crate::a::b` path (in `use` lines and in code) written in a file
under `src/`; `super::` paths stay inside a module and are not edges. Comments are
skipped. The layer table is read from the `//! | layer |` rows of src/lib.rs.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
DEEP = "--deep" in sys.argv


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3]  # strip .rs
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return None
    return ".".join(parts[:2] if DEEP else parts[:1])


def targets(line):
    # `crate::a::b`, `crate::{a, b::c}` (one level of braces is enough for this tree).
    for m in re.finditer(r"crate::(\{[^}]*\}|[a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)?)(?![a-z0-9_]*!)", line):
        t = m.group(1)
        if t.startswith("{"):
            for part in t[1:-1].split(","):
                part = part.strip()
                if part and re.match(r"[a-z_]", part):
                    yield part.split("::")[:2]
        else:
            yield t.split("::")


def name(parts):
    parts = [p for p in parts if p not in ("self",)]
    return ".".join(parts[:2] if DEEP else parts[:1])


def layers():
    table = {}
    with open(os.path.join(ROOT, "lib.rs")) as f:
        for line in f:
            m = re.match(r"//! \| (\d+) +\| (.*?) \|", line)
            if m:
                for mod in re.findall(r"`([a-z_:]+)`", m.group(2)):
                    table[mod.replace("::", ".")] = int(m.group(1))
    return table


def layer_of(mod, table):
    while mod:
        if mod in table:
            return table[mod]
        mod = mod.rpartition(".")[0]
    return None


edges = {}
for dirpath, _, files in os.walk(ROOT):
    for fn in files:
        if not fn.endswith(".rs"):
            continue
        path = os.path.join(dirpath, fn)
        src = module_of(path)
        if src is None:
            continue
        with open(path) as f:
            lines = f.read().split("\n")
        for lineno, line in enumerate(lines, 1):
                # A file's unit tests (its trailing `#[cfg(test)] mod tests`) may use anything.
                if line.strip() == "#[cfg(test)]" and lineno < len(lines) and lines[lineno].lstrip().startswith("mod tests"):
                    break
                code = line.split("//", 1)[0]
                for t in targets(code):
                    dst = name(t)
                    if not dst or dst == src or dst.split(".")[0] == src or src.startswith(dst + "."):
                        continue
                    if DEEP and dst.split(".")[0] == src.split(".")[0]:
                        pass  # inside one top-level module: kept at --deep
                    edges.setdefault((src, dst), []).append(f"{os.path.relpath(path, ROOT)}:{lineno}")

for (a, b), where in sorted(edges.items()):
    print(f"{a} -> {b}  ({len(where)})")

table = layers()
unplaced = sorted({m for e in edges for m in e if layer_of(m, table) is None})
print(f"\nlayers (src/lib.rs): {len(table)} modules placed; not placed: {', '.join(unplaced) or 'none'}")
up = []
for (a, b), where in sorted(edges.items()):
    la, lb = layer_of(a, table), layer_of(b, table)
    if la is not None and lb is not None and lb > la:
        up.append(f"  {a} (layer {la}) -> {b} (layer {lb}): {', '.join(where[:3])}")
print(f"\nupward edges: {len(up)}")
print("\n".join(up))

# Strongly connected components (Tarjan): every component of more than one module is a cycle.
graph = {}
for a, b in edges:
    graph.setdefault(a, set()).add(b)
    graph.setdefault(b, set())
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


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
            comps.append(sorted(comp))


for v in sorted(graph):
    if v not in index:
        visit(v)
print(f"\ncycles: {len(comps)}")
for c in comps:
    print("  " + " <-> ".join(c))
sys.exit(0)
