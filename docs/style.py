#!/usr/bin/env python3
"""The Chinese catalog's style rules, checked (docs/i18n.sh check runs this; so does CI).

    python3 docs/style.py po/zh-CN.po      # every fault, one line each; exit 1 if any
    python3 docs/style.py --self-test      # each rule finds its fault in style-test.po

The rules (docs/src/translating.md explains them):

- terms: a message whose English has a term of the glossary (src/glossary.md), outside
  code, has the glossary's Chinese for it. Where the English word means something else
  there, the message is listed in po/zh-CN.terms with the reason.
- italics: Chinese has no italics, and `_x_` or `*x*` between Chinese characters shows its
  markers on the page. Use bold or “”.
- parentheses: Chinese text in parentheses takes full-width ones: （中文）, not (中文).

Code spans, link targets and HTML tags are left out before a rule looks: `--idle-timeout`
or `[text](tcp-server.md)` is not prose.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CJK = '\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef'
HAN = re.compile(f'[{CJK}]')


def read_po(path):
    """(msgid, msgstr, line) of every translated, current message."""
    out = []
    text = open(path, encoding='utf-8').read()
    for block in text.split('\n\n'):
        lines = block.split('\n')
        if any(l.startswith('#~') for l in lines):
            continue
        fields, key, line_no = {}, None, None
        for l in lines:
            m = re.match(r'^(msgid|msgstr) (".*")$', l)
            if m:
                key = m.group(1)
                fields[key] = [eval_po(m.group(2))]
                if key == 'msgid':
                    line_no = text[: text.find(block)].count('\n') + lines.index(l) + 1
            elif key and l.startswith('"'):
                fields[key].append(eval_po(l))
            else:
                key = None
        mid, mstr = ''.join(fields.get('msgid', [])), ''.join(fields.get('msgstr', []))
        if mid and mstr:
            out.append((mid, mstr, line_no))
    return out


def eval_po(quoted):
    body = quoted[1:-1]
    return re.sub(r'\\(.)', lambda m: {'n': '\n', 't': '\t', '"': '"', '\\': '\\'}.get(m.group(1), m.group(1)), body)


def prose(text):
    """The text a reader reads as words: no code, no link targets, no tags, no ids."""
    text = re.sub(r'``.+?``|`[^`]*`', ' ', text)
    text = re.sub(r'\]\([^)]*\)', ']', text)
    text = re.sub(r'<[^>]+>', ' ', text)
    text = re.sub(r'\{#[^}]*\}', ' ', text)
    text = re.sub(r'https?://\S+', ' ', text)
    return text


def glossary(path):
    """[(english, [chinese, ...])] from the glossary's tables: `a, b` in English pairs with
    `甲, 乙` in Chinese one by one; otherwise any of the Chinese words will do."""
    pairs = []
    for line in open(path, encoding='utf-8'):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) < 3 or cells[0] in ('English', '') or set(cells[0]) <= set('-: '):
            continue
        english = [e.strip() for e in re.split(r',|/', re.sub(r'\s*\([^)]*\)', '', cells[0])) if e.strip()]
        chinese = [core(c) for c in re.split(r',|/|、', cells[1]) if core(c)]
        if not chinese:
            continue
        for i, e in enumerate(english):
            if '`' in e:
                continue  # a name in code: it stays as it is
            want = [chinese[i]] if len(english) == len(chinese) else chinese
            pairs.append((e, want))
    return pairs


def core(chinese):
    """The Chinese term without the English or the explanation in parentheses after it."""
    return re.sub(r'\s*[（(][^)）]*[)）]', '', chinese).strip().strip('*').strip()


def term_pattern(english):
    words = [re.escape(w) for w in english.split()]
    return re.compile(r'(?<![\w-])' + r'[\s-]+'.join(words) + r'(?:s|es)?(?![\w-])', re.I)


def exceptions(path):
    """{(term, msgid start): reason} from po/zh-CN.terms (TERM <tab> MSGID START <tab> WHY);
    a start of * excuses the term everywhere."""
    found = {}
    if not os.path.exists(path):
        return found
    for n, line in enumerate(open(path, encoding='utf-8'), 1):
        if not line.strip() or line.startswith('#'):
            continue
        parts = line.rstrip('\n').split('\t')
        if len(parts) != 3 or not parts[2].strip():
            raise SystemExit(f'{path}:{n}: expected TERM, MSGID START and WHY, tab-separated')
        found[(parts[0], parts[1])] = parts[2]
    return found


def excused(excuses, term, msgid, used):
    hits = [(t, start) for (t, start) in excuses
            if t == term and (start == '*' or msgid.startswith(start))]
    used.update(hits)
    return bool(hits)


ITALIC_UNDERSCORE = re.compile(r'(?<![A-Za-z0-9_\\])_(?=[^\s_])([^_\n]*?[^\s_\\])_(?![A-Za-z0-9_])')
ITALIC_STAR = re.compile(r'(?<![*\\])\*(?=[^\s*])([^*\n]*?[^\s*\\])\*(?!\*)')
HALF_PARENS = re.compile(r'\(([^()]*)\)')


def faults(catalog, gloss, excuses):
    """(line, rule, text) for every fault in the catalog."""
    found, used = [], set()
    terms = [(e, want, term_pattern(e)) for e, want in gloss]
    for msgid, msgstr, line in catalog:
        english, chinese = prose(msgid), prose(msgstr)
        if msgstr == msgid:
            # Kept as it is on purpose: the glossary's English column, a name, or the
            # tutorial's own Chinese quoted with its own punctuation.
            continue
        for e, want, pattern in terms:
            if pattern.search(english) and not any(w in msgstr for w in want):
                if not excused(excuses, e, msgid, used):
                    found.append((line, 'terms', f'"{e}" is {" or ".join(want)} in the glossary: {short(msgstr)}'))
        no_bold = chinese.replace('**', '\x00')
        for m in list(ITALIC_UNDERSCORE.finditer(no_bold)) + list(ITALIC_STAR.finditer(no_bold)):
            if HAN.search(m.group(1)) or HAN.search(no_bold[max(0, m.start() - 1):m.start()]):
                found.append((line, 'italics', f'{m.group(0)!r}: Chinese has no italics; use bold or “”'))
        for m in HALF_PARENS.finditer(chinese):
            if HAN.search(m.group(1)):
                found.append((line, 'parentheses', f'{m.group(0)!r}: Chinese text takes （full-width） parentheses'))
    for term, start in sorted(set(excuses) - used):
        found.append((None, 'terms', f'the exception for "{term}" in "{short(start)}" excuses nothing: remove it'))
    return found


def short(text, n=60):
    text = text.replace('\n', ' ')
    return text if len(text) <= n else text[:n] + '…'


def check(po, quiet=False):
    gloss = glossary(os.path.join(HERE, 'src', 'glossary.md'))
    terms = os.path.splitext(po)[0] + '.terms'
    found = faults(read_po(po), gloss, exceptions(terms))
    if not quiet:
        for line, rule, text in found:
            where = os.path.relpath(terms) if line is None else f'{os.path.relpath(po)}:{line}'
            print(f'{where}: {rule}: {text}')
    return found


def self_test():
    """Every message of style-test.po that says `fault: RULE` must be found by that rule and
    no other, and every message that says `clean` by none."""
    po = os.path.join(HERE, 'po', 'style-test.po')
    found = check(po, quiet=True)
    by_line = {}
    for line, rule, _ in found:
        by_line.setdefault(line, set()).add(rule)
    bad = 0
    for msgid, msgstr, line in read_po(po):
        m = re.search(r'\((fault: (\w+)|clean)\)$', msgid)
        if not m:
            continue
        want = {m.group(2)} if m.group(2) else set()
        got = by_line.get(line, set())
        if got != want:
            bad += 1
            print(f'style-test.po:{line}: expected {sorted(want) or "no fault"}, found {sorted(got) or "none"}: {short(msgid)}')
    rules = {'terms', 'italics', 'parentheses'}
    planted = {r for mid, _, _ in read_po(po) for r in re.findall(r'fault: (\w+)', mid)}
    if planted != rules:
        bad += 1
        print(f'style-test.po plants faults for {sorted(planted)}, not for every rule {sorted(rules)}')
    print('style.py self-test: ' + ('every rule found its fault, and nothing else' if not bad else f'{bad} wrong'))
    return 1 if bad else 0


if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']:
        sys.exit(self_test())
    total = sum(len(check(po)) for po in sys.argv[1:])
    if total:
        print(f'style: {total} faults; the rules are in docs/src/translating.md', file=sys.stderr)
    sys.exit(1 if total else 0)
