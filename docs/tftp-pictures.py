#!/usr/bin/env python3
"""docs/tftp-pictures.py -- the TFTP lesson's two ladder pictures, in English and Chinese.

    python3 docs/tftp-pictures.py        # writes docs/src/images/tftp-*.svg and *.zh-CN.svg

Drawn from a script of events, not from a capture: they show what RFC 1350 and RFC 1123
say happens, in the order it happens (the lesson's measurements show the real timings).
Client on the left, server on the right, time downwards; a lost packet ends in a cross.
"""
import math
import os

W, LEFT, RIGHT, TOP, STEP = 760, 190, 570, 70, 34
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Noto Sans Mono CJK SC', monospace"
INK, GREY, RED, BLUE = "#1f2937", "#9ca3af", "#b91c1c", "#1d4ed8"

# Each picture: title, the two ends, and the events. An event: (row, who sends, label,
# how: "ok", "lost", "twin" (a copy the apprentice should not have sent)), or a note:
# (row, None, text, colour).
PICTURES = {
    "tftp-stop-and-wait": {
        "title": ("Stop-and-wait: one block per round trip", "停等：每个往返一块"),
        "ends": (("client (tftp get)", "客户端（tftp get）"), ("server, a new port per transfer", "服务器，每次传输一个新端口")),
        "events": [
            (0, 0.8, "c", ("RRQ notes.txt octet", "RRQ notes.txt octet"), "ok"),
            (1, 1.8, "s", ("DATA 1 (512 bytes)", "DATA 1（512 字节）"), "ok"),
            (2, 2.8, "c", ("ACK 1", "ACK 1"), "ok"),
            (3, 3.8, "s", ("DATA 2 (512 bytes)", "DATA 2（512 字节）"), "ok"),
            (4, 4.8, "c", ("ACK 2, lost", "ACK 2，丢了"), "lost"),
            (5, None, None, ("timeout: 1 s, then 2, 4, 8 ...", "超时：1 秒，然后 2、4、8 秒……"), RED),
            (6, 6.8, "s", ("DATA 2 again", "再发 DATA 2"), "ok"),
            (7, 7.8, "c", ("ACK 2 (one copy is kept)", "ACK 2（只保留一份）"), "ok"),
            (8, 8.8, "s", ("DATA 3 (100 bytes: the last)", "DATA 3（100 字节：最后一块）"), "ok"),
            (9, 9.8, "c", ("ACK 3", "ACK 3"), "ok"),
            (10.3, None, None, ("at most 512 bytes per round trip", "每个往返最多 512 字节"), BLUE),
        ],
    },
    "tftp-sas": {
        "title": ("The Sorcerer's Apprentice: a late ACK doubles every block", "魔法师的学徒：一个迟到的 ACK 让每一块都发两次"),
        "ends": (("client", "客户端"), ("server that answers every ACK", "每个 ACK 都回的服务器")),
        "events": [
            (0, 0.8, "s", ("DATA 4", "DATA 4"), "ok"),
            (1, 4.0, "c", ("ACK 4, late", "ACK 4，迟到"), "slow"),
            (2.2, None, "s", ("timeout", "超时"), RED),
            (2.6, 3.3, "s", ("DATA 4 again", "再发 DATA 4"), "ok"),
            (3.5, 4.5, "c", ("ACK 4 of the copy", "ACK 4（回副本）"), "ok"),
            (4.1, 4.9, "s", ("DATA 5", "DATA 5"), "ok"),
            (4.7, 5.5, "s", ("DATA 5 again: the bug", "又一个 DATA 5：错误在这里"), "twin"),
            (5.7, 6.5, "c", ("ACK 5", "ACK 5"), "ok"),
            (6.1, 6.9, "c", ("ACK 5", "ACK 5"), "ok"),
            (6.7, 7.5, "s", ("DATA 6", "DATA 6"), "ok"),
            (7.1, 7.9, "s", ("DATA 6 again", "又一个 DATA 6"), "twin"),
            (8.6, None, None, ("... every block twice, to the end", "……此后每一块都发两次，直到结束"), RED),
            (9.4, None, None, ("the fix: ignore an ACK that brings nothing new (RFC 1123)", "修正：不带来新东西的 ACK 不理（RFC 1123）"), BLUE),
        ],
    },
}


def esc(t):
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text(x, y, t, size=12, colour=INK, anchor="middle", rotate=None):
    tr = f' transform="rotate({rotate:.1f} {x:.1f} {y:.1f})"' if rotate is not None else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" text-anchor="{anchor}"{tr}>{esc(t)}</text>'


def arrow(x1, y1, x2, y2, colour, dash=False, cut=None):
    """A line from (x1, y1) towards (x2, y2); `cut` ends it part way, with a cross."""
    out = []
    ex, ey = (x2, y2) if cut is None else (x1 + (x2 - x1) * cut, y1 + (y2 - y1) * cut)
    d = ' stroke-dasharray="5 4"' if dash else ""
    out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke="{colour}" stroke-width="1.6"{d}/>')
    if cut is None:
        s = 1 if x2 > x1 else -1
        out.append(f'<polygon points="{x2:.1f},{y2:.1f} {x2 - 9 * s:.1f},{y2 - 6:.1f} {x2 - 9 * s:.1f},{y2 + 4:.1f}" fill="{colour}"/>')
    else:
        for a, b in ((-6, -6), (-6, 6)):
            out.append(f'<line x1="{ex + a:.1f}" y1="{ey + b:.1f}" x2="{ex - a:.1f}" y2="{ey - b:.1f}" stroke="{RED}" stroke-width="2"/>')
    return out


def draw(p, zh):
    i = 1 if zh else 0
    rows = max(e[0] for e in p["events"]) + 1.5
    h = TOP + rows * STEP + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" font-family="{FONT}" role="img">',
           f"<title>{esc(p['title'][i])}</title>", '<rect width="100%" height="100%" fill="white"/>',
           text(W / 2, 24, p["title"][i], 15)]
    for x, end in ((LEFT, p["ends"][0]), (RIGHT, p["ends"][1])):
        out.append(text(x, 52, end[i], 13))
        out.append(f'<line x1="{x}" y1="60" x2="{x}" y2="{h - 20}" stroke="{INK}" stroke-width="2"/>')
    out.append(text(16, 52, "time ↓" if not zh else "时间 ↓", 12, GREY, "start"))
    for row, end, who, label, how in p["events"]:
        y = TOP + row * STEP
        if end is None:
            # A note: in the middle, or beside the end that it is about.
            x = {None: (LEFT + RIGHT) / 2, "s": RIGHT + 12, "c": LEFT - 12}[who]
            anchor = {None: "middle", "s": "start", "c": "end"}[who]
            out.append(text(x, y + 4, label[i], 12, how, anchor))
            continue
        x1, x2 = (LEFT, RIGHT) if who == "c" else (RIGHT, LEFT)
        y2 = TOP + end * STEP
        colour = RED if how == "twin" else INK
        cut = 0.55 if how == "lost" else None
        out += arrow(x1, y, x2, y2, colour, dash=how == "slow", cut=cut)
        angle = math.degrees(math.atan2(y2 - y, x2 - x1))
        if angle > 90:
            angle -= 180
        if angle < -90:
            angle += 180
        # The label near the sender, above its line: crossing lines keep their words apart.
        f = 0.3
        lx, ly = x1 + (x2 - x1) * f, y + (y2 - y) * f - 5
        out.append(text(lx, ly, label[i], 11, colour, rotate=angle))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", "images")
    for name, p in PICTURES.items():
        for zh, suffix in ((False, ""), (True, ".zh-CN")):
            path = os.path.join(root, f"{name}{suffix}.svg")
            open(path, "w").write(draw(p, zh))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
