#!/usr/bin/python3
"""test-callgraph.py - the core's modules call each other without a loop

Reads the symbols each object file of libsgcore defines and uses (nm(1) on
the build's common/ objects) and draws the graph "file A calls a function
defined in file B".  The test fails when that graph has a cycle, and names
the calls that make it; otherwise it prints the modules in layers: each
one calls only modules of lower layers.

Run by "make check" from the build's tests/ directory; an argument names
another build's common/ directory.
"""
import collections
import glob
import os
import subprocess
import sys


def objects(common):
    """module name -> object file (PIC objects when libtool made both), of
    libsgcore and of libsgbase (names and times, which it includes)"""
    found = {}
    for lib in ('libsgcore_la-', 'libsgbase_la-'):
        for pattern in (lib + '*.o', '.libs/' + lib + '*.o'):
            for path in glob.glob(os.path.join(common, pattern)):
                name = os.path.basename(path)[len(lib):-2]
                found[name] = path
    return found


def symbols(path):
    defined, used = set(), set()
    out = subprocess.run(['nm', path], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBR':
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == 'U':
            used.add(parts[1])
    return defined, used


def strongly_connected(nodes, edges):
    """Tarjan's algorithm, iteratively: the components, in reverse
    topological order"""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    comps.append(sorted(comp))
    return comps


def main():
    common = sys.argv[1] if len(sys.argv) > 1 else os.path.join('..', 'common')
    objs = objects(common)
    if len(objs) < 20:
        print('test-callgraph: only %d libsgcore objects in %s' % (len(objs), common))
        return 1
    defined, used = {}, {}
    for name, path in objs.items():
        defined[name], used[name] = symbols(path)
    owner = {s: m for m, syms in defined.items() for s in syms}
    edges = collections.defaultdict(set)
    calls = collections.defaultdict(list)
    for m, syms in used.items():
        for s in sorted(syms):
            if s in owner and owner[s] != m:
                edges[m].add(owner[s])
                calls[(m, owner[s])].append(s)
    nodes = sorted(objs)
    cycles = [c for c in strongly_connected(nodes, edges) if len(c) > 1]
    if cycles:
        for comp in cycles:
            print('FAIL: these modules call each other in a loop: %s'
                  % ', '.join(comp))
            for a in comp:
                for b in comp:
                    if (a, b) in calls:
                        print('    %s -> %s: %s' % (a, b, ', '.join(calls[(a, b)])))
        return 1
    layer = {}
    for comp in strongly_connected(nodes, edges):   # callees come first
        m = comp[0]
        layer[m] = 1 + max((layer[d] for d in edges[m]), default=-1)
    for n in range(max(layer.values()) + 1):
        print('layer %d: %s' % (n, ' '.join(sorted(m for m in layer if layer[m] == n))))
    print('ok: %d modules, %d calls between modules, no cycle'
          % (len(nodes), sum(len(e) for e in edges.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
