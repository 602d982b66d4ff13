#!/usr/bin/env python3
"""No circle between the modules of a crate (.ci/run runs it on every crate).

A module depends on another when its code, outside `#[cfg(test)] mod tests`, names it:
`crate::a::b`, `super::x`, or one of its own child modules (`child::...`, `use child`).
Naming an item of the crate root (`crate::Config`) is a dependency on the root, so a root
that uses its children must not define what they use: such items live in a module of
their own (tcp-server's `config`, upload's `Exchange` in a root that uses nothing).
Declaring `mod child;` is not a dependency. The reading is by pattern, not by the
compiler: it may see an edge that is not there, and it reads one level of `{...}` in a
`use` (nested groups are not read; the workspace has none).

    python3 .ci/modules.py CRATE_DIR...   # prints each circle and its edges; exit 1 if any
    python3 .ci/modules.py --self-test    # shows that a circle is found, and a tree passes
"""

import os, re, sys, tempfile

def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith('.rs'): continue
            p = os.path.join(root, f); rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel == ['lib'] or rel == ['main']: path = () if rel == ['lib'] else ('<main>',)
            elif rel[-1] == 'mod': path = tuple(rel[:-1])
            else: path = tuple(rel)
            if rel[0] == 'bin': continue
            mods[path] = p
    return mods

def strip_tests(text):
    i = text.find('#[cfg(test)]\nmod tests')
    return text if i < 0 else text[:i]

def strip_comments(text):
    return '\n'.join(l for l in text.split('\n') if not l.strip().startswith('//'))

def resolve(mods, parts):
    # longest prefix that is a module
    for n in range(len(parts), -1, -1):
        if tuple(parts[:n]) in mods: return tuple(parts[:n])
    return ()

def edges(mods):
    E = {m: set() for m in mods}
    for m, p in mods.items():
        if m == ('<main>',): continue
        t = strip_comments(strip_tests(open(p, encoding='utf-8').read()))
        # expand `use crate::{a, b::c}` groups roughly: take first segment after crate::
        for mm in re.finditer(r'\bcrate::((?:\{[^}]*\})|[A-Za-z_][\w:]*)', t):
            seg = mm.group(1)
            if seg.startswith('{'):
                for item in re.split(r'[,\s]+', seg.strip('{}')):
                    if not item: continue
                    tgt = resolve(mods, item.split('::')[:-1] or [item]) if '::' in item else resolve(mods, [item])
                    if tgt != m and tgt in mods: E[m].add(tgt)
            else:
                parts = seg.split('::')
                tgt = resolve(mods, parts[:-1] if len(parts) > 1 else parts)
                # crate::X where X is an item of the root
                if tgt != m: E[m].add(tgt)
        for mm in re.finditer(r'\bsuper::((?:\{[^}]*\})|[A-Za-z_][\w:]*)', t):
            base = list(m[:-1])
            seg = mm.group(1)
            items = re.split(r'[,\s]+', seg.strip('{}')) if seg.startswith('{') else [seg]
            for item in items:
                if not item: continue
                parts = base + item.split('::')
                tgt = resolve(mods, parts[:-1] if len(item.split('::')) > 1 else parts)
                if tuple(parts[:len(base)+1]) in mods: tgt = resolve(mods, parts[:-1] if item.count('::') else parts)
                if tgt != m: E[m].add(tgt)
        # children named directly
        for c in [k for k in mods if len(k) == len(m) + 1 and k[:len(m)] == m]:
            if re.search(r'(?<![\w:])' + c[-1] + r'::', t) or re.search(r'\buse\s+(self::)?' + c[-1] + r'\b', t):
                E[m].add(c)
    return E

def cycles(E):
    out = []
    index = {}; low = {}; stack = []; on = set(); counter = [0]
    def sc(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in E.get(v, ()):
            if w not in E: continue
            if w not in index: sc(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(comp)
    for v in E:
        if v not in index: sc(v)
    return out


def report(crate):
    mods = modules(os.path.join(crate, 'src'))
    E = edges(mods)
    name = lambda m: 'crate' if m == () else '::'.join(m)
    found = cycles(E)
    for comp in found:
        print(f'{crate}: circle between ' + ', '.join(sorted(name(c) for c in comp)))
        for a in sorted(comp):
            for b in sorted(E[a]):
                if b in comp:
                    print(f'    {name(a)} uses {name(b)}')
    return len(found)


def self_test():
    files = {
        'circle/src/lib.rs': 'pub mod a;\npub mod b;\n',
        'circle/src/a.rs': 'use crate::b::B;\npub struct A;\n',
        'circle/src/b.rs': 'use super::a::A;\npub struct B;\n',
        'root/src/lib.rs': 'pub mod c;\npub struct Config;\npub fn main() { c::run() }\n',
        'root/src/c.rs': 'use crate::Config;\npub fn run() {}\n',
        'tree/src/lib.rs': 'pub mod a;\npub mod b;\npub use a::A;\n',
        'tree/src/a.rs': 'use crate::b::B;\npub struct A;\n',
        'tree/src/b.rs': 'pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n',
    }
    with tempfile.TemporaryDirectory() as d:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
            open(os.path.join(d, path), 'w').write(text)
        got = {c: report(os.path.join(d, c)) for c in ('circle', 'root', 'tree')}
    want = {'circle': 1, 'root': 1, 'tree': 0}
    if got != want:
        print(f'modules.py self-test: found {got}, expected {want}')
        return 1
    print('modules.py self-test: the circles were found, the tree passed')
    return 0


if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']:
        sys.exit(self_test())
    bad = sum(report(crate) for crate in sys.argv[1:])
    sys.exit(1 if bad else 0)
