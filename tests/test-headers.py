#!/usr/bin/python3
"""test-headers.py - the core's private headers include each other without
a loop, and no adapter includes one

The private headers are the headers of common/ other than the two public
ones (smimeguard.h, smimeguard-admin.h): one per module (sg-base.h,
ctx-private.h, mime-private.h, ...).  The test reads the source tree and
fails when

  - the graph "header A includes header B" among them has a cycle (it
    names the headers of the loop);
  - a private header has no include guard, or shares one with another;
  - a file of the adapters (dovecot-plugin/, postfix-policy/, keyd/,
    tools/, settings/) includes a private header of common/: they use only
    smimeguard.h and smimeguard-admin.h.

Run by "make check" from the build's tests/ directory; it finds the source
tree next to itself, or an argument names it.
"""
import os
import re
import sys

PUBLIC = {'smimeguard.h', 'smimeguard-admin.h'}
ADAPTERS = ('dovecot-plugin', 'postfix-policy', 'keyd', 'tools', 'settings')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return INCLUDE.findall(f.read())


def find_cycle(graph):
    """one cycle of graph (node -> set of nodes) as a list, or None"""
    state = {}

    def visit(n, path):
        state[n] = 'open'
        path.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 'open':
                return path[path.index(m):] + [m]
            if m not in state:
                cycle = visit(m, path)
                if cycle:
                    return cycle
        path.pop()
        state[n] = 'done'
        return None

    for n in sorted(graph):
        if n not in state:
            cycle = visit(n, [])
            if cycle:
                return cycle
    return None


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    common = os.path.join(src, 'common')
    private = sorted(f for f in os.listdir(common)
                     if f.endswith('.h') and f not in PUBLIC)
    if len(private) < 10:
        print('FAIL: only %d private headers in %s' % (len(private), common))
        return 1
    failures = 0

    graph = {h: set(i for i in includes(os.path.join(common, h))
                    if i in private) for h in private}
    cycle = find_cycle(graph)
    if cycle:
        print('FAIL: private headers include each other in a loop: %s'
              % ' -> '.join(cycle))
        failures += 1

    guards = {}
    for h in private:
        with open(os.path.join(common, h), encoding='utf-8') as f:
            m = re.search(r'^#ifndef (\w+)\n#define \1\n', f.read(), re.M)
        if not m:
            print('FAIL: %s has no include guard' % h)
            failures += 1
        elif m.group(1) in guards:
            print('FAIL: %s and %s share the include guard %s'
                  % (guards[m.group(1)], h, m.group(1)))
            failures += 1
        else:
            guards[m.group(1)] = h

    checked = 0
    for top in ADAPTERS:
        for root, _, files in os.walk(os.path.join(src, top)):
            for name in sorted(files):
                if not name.endswith(('.c', '.h')):
                    continue
                path = os.path.join(root, name)
                checked += 1
                for inc in includes(path):
                    # "x.h" is the adapter's own header when it has one
                    if inc in private and \
                       not os.path.exists(os.path.join(root, inc)):
                        print('FAIL: %s includes %s, a private header of '
                              'common/' % (os.path.relpath(path, src), inc))
                        failures += 1
    if checked < 10:
        print('FAIL: only %d adapter files under %s' % (checked, src))
        failures += 1
    if failures:
        return 1
    print('ok: %d private headers, %d includes between them, no cycle; '
          '%d adapter files include none of them'
          % (len(private), sum(len(g) for g in graph.values()), checked))
    return 0


if __name__ == '__main__':
    sys.exit(main())
