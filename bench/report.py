#!/usr/bin/env python3
"""bench/report.py OUT [--publish DOCS_SRC] -- the report of a bench/run.sh run.

Reads OUT/samples.jsonl (one line per counted run: workload, system, run, value; or a
system that could not run, and why) and OUT/meta.json (mode, sizes, timings), and writes:

  OUT/report.md            one Markdown table: each workload, ours first, then each
                           baseline, median (min-max) of the counted runs, and how many
                           times better ours is than that baseline
  OUT/report.json          the same, with every run's value
  OUT/tcp-connections.svg  round trips/s against connection count, one line per server

and prints report.md. With --publish DOCS_SRC it also replaces the text between the
`<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` markers of the book's pages
(performance.md: the whole report, from a run of every workload; tcp-vs-udp.md: the TCP
and UDP figures it quotes; one-thread.md: the two models' figures), each only from a run
that measured all of its figures, and copies the plot to DOCS_SRC/images/.

Exit status 1 when one of our programs has no measurement in a workload that ran, and no
reason was recorded for it (a reason: no tmpfs for the RAM upload, say): the smoke run in
CI uses that to make sure the benchmark itself still works.
"""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from datetime import date

# Each workload: id, what is measured, unit, whether higher is better, the systems in
# order (ours first; `main` is the one the ratios are taken against), and a number format.
WORKLOADS = [
    ("tcp-rt-1", "TCP, 1 connection, lock-step round trips", "round trips/s", True,
     ["tcp-server", "tcp-server-poll", "std", "socat", "python"], "{:,.0f}"),
    ("tcp-rt-1-core", "TCP, 1 connection, server and client pinned to one core", "round trips/s", True,
     ["tcp-server", "tcp-server-poll", "std", "socat", "python"], "{:,.0f}"),
    ("tcp-rt-10", "TCP, 10 connections at once", "round trips/s", True,
     ["tcp-server", "tcp-server-poll", "std", "socat", "python"], "{:,.0f}"),
    ("tcp-rt-100", "TCP, 100 connections at once", "round trips/s", True,
     ["tcp-server", "tcp-server-poll", "std", "socat", "python"], "{:,.0f}"),
    ("tcp-rt-1000", "TCP, 1,000 connections at once", "round trips/s", True,
     ["tcp-server", "tcp-server-poll", "std", "socat", "python"], "{:,.0f}"),
    ("tcp-idle-rss", "TCP, server memory with {idle:,} idle connections", "MiB", False,
     ["tcp-server-poll", "tcp-server", "std", "asyncio"], "{:,.1f}"),
    ("tcp-idle-bytes", "TCP, server memory per idle connection, {idle:,} held", "bytes", False,
     ["tcp-server-poll", "tcp-server", "std", "asyncio"], "{:,.0f}"),
    ("tcp-idle-max-rss", "TCP, server peak memory with {idle_max:,} connections, a round trip on each", "MiB", False,
     ["tcp-server-poll", "tcp-server"], "{:,.1f}"),
    ("tcp-idle-max-bytes", "TCP, server memory per idle connection, {idle_max:,} held", "bytes", False,
     ["tcp-server-poll", "tcp-server"], "{:,.0f}"),
    ("udp-rt", "UDP, lock-step round trips", "round trips/s", True,
     ["udp-server", "udp-server-thread", "socat", "python"], "{:,.0f}"),
    ("udp-rt-core", "UDP, lock-step, server and client pinned to one core", "round trips/s", True,
     ["udp-server", "udp-server-thread", "socat", "python"], "{:,.0f}"),
    ("udp-rate", "UDP, highest rate answered with under 1% loss", "requests/s", True,
     ["udp-server", "udp-server-thread", "socat", "python"], "{:,.0f}"),
    ("upload-time", "upload of a {file_mib:,} MiB file over loopback into a file on disk, end to end", "s", False,
     ["upload", "nc", "nc+sync", "cat+sync", "python", "iperf3"], "{:,.3f}"),
    ("upload-time-ram", "the same upload into a tmpfs (no disk)", "s", False,
     ["upload", "nc", "python"], "{:,.3f}"),
    ("upload-cpu-ram", "the same upload into a tmpfs: CPU time of both sides together", "CPU s", False,
     ["upload", "nc", "python"], "{:,.2f}"),
    ("upload-rss-send", "upload: sender peak memory", "MiB", False,
     ["upload", "nc", "python", "iperf3"], "{:,.1f}"),
    ("upload-rss-recv", "upload: receiver peak memory", "MiB", False,
     ["upload", "nc", "python", "iperf3"], "{:,.1f}"),
    ("sha256-time", "SHA-256 of the same {file_mib:,} MiB file", "s", False,
     ["upload-sum", "sha256sum", "openssl"], "{:,.3f}"),
    ("startup", "start-up: exec to exit of --version", "ms", False,
     ["upload", "tcp-server", "tcp-client", "udp-server", "udp-client", "python", "socat"], "{:,.2f}"),
]
OURS = {"tcp-server", "tcp-server-poll", "udp-server", "udp-server-thread", "upload", "upload-sum",
        "tcp-client", "udp-client"}
NAMES = {
    "tcp-server": "tcp-server --quiet",
    "tcp-server-poll": "tcp-server --quiet --model poll",
    "asyncio": "the tutorial's server with asyncio (Python)",
    "std": "std thread-per-connection server",
    "socat": "socat fork PIPE",
    "python": "the tutorial in Python 3",
    "udp-server": "udp-server --quiet",
    "udp-server-thread": "udp-server --handler thread",
    "upload": "upload",
    "nc": "nc (no checksum, no fsync)",
    "nc+sync": "nc, then sync",
    "cat+sync": "cat, then sync: a local copy, no network (the disk alone)",
    "iperf3": "iperf3, memory to memory (ceiling)",
    "upload-sum": "upload sum",
    "sha256sum": "sha256sum",
    "openssl": "openssl dgst -sha256",
    "tcp-client": "tcp-client",
    "udp-client": "udp-client",
}
STARTUP_NAMES = {"python": "python3 -c 'import socket'", "socat": "socat -V"}
# Ours, but compared with the main program all the same: the tutorial's design, built in Rust.
COMPARED = {"udp-server-thread", "tcp-server-poll"}
# The same, in some workloads only: the thread model where the event loop leads the table.
COMPARED_IN = {("tcp-idle-rss", "tcp-server"), ("tcp-idle-bytes", "tcp-server"),
               ("tcp-idle-max-rss", "tcp-server"), ("tcp-idle-max-bytes", "tcp-server")}
# Values recorded in KiB, reported in MiB.
KIB = {"tcp-idle-rss", "tcp-idle-max-rss", "upload-rss-send", "upload-rss-recv"}
PLOT = ["tcp-server", "tcp-server-poll", "std", "socat", "python"]
PLOT_COLOURS = {"tcp-server": "#d62728", "tcp-server-poll": "#ff7f0e", "std": "#1f77b4",
                "socat": "#2ca02c", "python": "#9467bd"}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}"


def load(out):
    samples, why = {}, {}
    with open(os.path.join(out, "samples.jsonl")) as f:
        for line in f:
            x = json.loads(line)
            key = (x["w"], x["s"])
            if "missing" in x:
                why[key] = x["missing"]
            else:
                v = x["v"] / 1024 if x["w"] in KIB else x["v"]
                samples.setdefault(key, []).append(v)
    return samples, why


def build(out):
    samples, why = load(out)
    meta = json.load(open(os.path.join(out, "meta.json")))
    sizes = meta["sizes"]
    result = {"machine": machine(), "date": date.today().isoformat(), **meta, "workloads": []}
    result["command"] = result["command"].strip()
    problems = []
    for wid, title, unit, higher, systems, fmt in WORKLOADS:
        ran = any(w == wid for (w, _) in list(samples) + list(why))
        if not ran:
            continue
        rows = []
        main = None
        for s in systems:
            vals = samples.get((wid, s))
            row = {"system": s, "name": name(wid, s), "ours": s in OURS}
            if vals:
                row.update(median=statistics.median(vals), min=min(vals), max=max(vals), runs=vals)
            else:
                row["missing"] = why.get((wid, s), "no measurement")
                # Ours without a reason given (such as no tmpfs): the benchmark is broken.
                if s in OURS and (wid, s) not in why:
                    problems.append(f"{wid}: no measurement of {s}")
            if main is None and row["ours"]:
                main = row
            rows.append(row)
        for row in rows:
            compared = row["system"] in COMPARED or (wid, row["system"]) in COMPARED_IN
            mine = row["ours"] and (row is main or not compared)
            if mine or "median" not in row or not main or "median" not in main:
                row["ours_better_by"] = None
                continue
            a, b = main["median"], row["median"]
            row["ours_better_by"] = (a / b if higher else b / a) if a and b else None
        result["workloads"].append({
            "id": wid, "title": title.format(**sizes), "unit": unit,
            "higher_is_better": higher, "fmt": fmt, "rows": rows, "against": main["system"] if main else None,
        })
    result["floods"] = {}
    for s in ("tcp-server", "std"):
        p = os.path.join(out, f"flood-{s}.json")
        if os.path.exists(p):
            try:
                result["floods"][s] = json.load(open(p))
            except ValueError:
                result["floods"][s] = None
    return result, problems


def name(wid, s):
    if wid == "startup":
        return STARTUP_NAMES.get(s, s)
    return NAMES.get(s, s)


def table(result, ids=None):
    lines = ["| workload | program | median | min–max | ours better by |", "|---|---|---|---|---|"]
    for w in result["workloads"]:
        if ids and w["id"] not in ids:
            continue
        fmt = w["fmt"]
        first = True
        for row in w["rows"]:
            label = f"{w['title']} ({w['unit']}, {'higher' if w['higher_is_better'] else 'lower'} is better)" if first else ""
            first = False
            prog = f"**{row['name']}**" if row["ours"] else row["name"]
            if "median" not in row:
                lines.append(f"| {label} | {prog} | {row['missing']} | | |")
                continue
            ratio = "—" if row["ours_better_by"] is None else f"{row['ours_better_by']:.2f}×"
            lines.append(f"| {label} | {prog} | {fmt.format(row['median'])} "
                         f"| {fmt.format(row['min'])}–{fmt.format(row['max'])} | {ratio} |")
    return "\n".join(lines)


def flood_notes(result):
    notes = []
    for s, f in result["floods"].items():
        if not f:
            notes.append(f"- flood against {NAMES[s]}: no report (the tool failed)")
            continue
        notes.append(
            f"- flood of {f['attempts']:,} connection attempts against {NAMES[s]}: greeted {f['greeted']:,}, "
            f"refused with \"server busy\" {f['refused_busy_message']:,}, closed silently {f['closed_silently']:,}, "
            f"could not connect {f['connect_failed']:,}; server alive after: {'yes' if f['server_alive_after'] else '**no**'}; "
            f"held connections still answered: {f['held_answered_after']:,}")
    return notes


def medians(result, wid):
    w = next((w for w in result["workloads"] if w["id"] == wid), None)
    return {r["system"]: r["median"] for r in w["rows"] if "median" in r} if w else {}


def model_notes(result):
    """The event loop against the thread model, at each connection count: poll ÷ thread."""
    parts = []
    for w in result["workloads"]:
        m = re.fullmatch(r"tcp-rt-(\d+(-core)?)", w["id"])
        got = medians(result, w["id"])
        if m and got.get("tcp-server") and got.get("tcp-server-poll"):
            label = m.group(1).replace("-core", " (one core)")
            parts.append(f"{label}: {got['tcp-server-poll'] / got['tcp-server']:.2f}×")
    if not parts:
        return []
    return ["- round trips/s of `--model poll` ÷ `--model thread`, by connections at once: " + ", ".join(parts)]


def million_note(result):
    """A million idle connections on one host, at the measured bytes per connection."""
    per = medians(result, "tcp-idle-bytes")
    if not per:
        return []
    cost = ", ".join(f"{NAMES[s]} {v * 1e6 / 2**30:,.1f} GiB" for s, v in sorted(per.items(), key=lambda x: x[1]))
    return [f"- a million idle connections on one host, on paper, at the bytes per connection measured "
            f"with {result['sizes']['idle']:,} (the server's own memory; the kernel's memory for the "
            f"sockets comes on top, the same in every model): {cost}"]


def cpu_floor_note(result):
    """CPU seconds / cores: no transfer can take less time than that on this machine."""
    cores = os.cpu_count() or 1
    for w in result["workloads"]:
        if w["id"] != "upload-cpu-ram":
            continue
        floors = [f"{row['name'].split(' (')[0]} {row['median'] / cores:.2f} s"
                  for row in w["rows"] if "median" in row]
        if floors:
            return [f"- the CPU floor of the tmpfs upload on this machine's {cores} cores (both sides' "
                    f"CPU seconds ÷ {cores}; no run can be faster): {', '.join(floors)}"]
    return []


def markdown(result):
    sizes = result["sizes"]
    took = ", ".join(f"{k} {v} s" for k, v in result["workload_seconds"].items())
    parts = [
        f"Measured on {result['date']} with `{result['command']}` ({result['mode']} mode: "
        f"{result['runs']} counted runs after {result['warmup']} warm-up, systems alternating; "
        f"{result['seconds']} s in all: {took}).",
        "",
        f"Machine: {result['machine']}.",
        "",
        "\"Ours better by\" is how many times better the first program in bold is than that row: "
        "its rate divided by theirs, or their time or memory divided by ours. Below 1.00× the "
        "baseline wins.",
        "",
        table(result),
    ]
    if any(w["id"].startswith(("tcp-rt", "udp-rt")) for w in result["workloads"]):
        counts = ", ".join(f"{c:,} × {n:,}" for c, n in zip(sizes["conns"], sizes["conn_counts"]))
        parts += [
            "",
            f"TCP messages are {sizes['payload']} bytes; the 1-connection runs do {sizes['tcp_count']:,} "
            f"round trips, the others {counts} (connections × round trips each); UDP lock-step runs "
            f"do {sizes['udp_count']:,}.",
        ]
    notes = model_notes(result) + million_note(result) + flood_notes(result) + cpu_floor_note(result)
    if notes:
        parts += ["", *notes]
    return "\n".join(parts) + "\n"


def svg(result):
    """Round trips/s against connection count (log scale), one line per server."""
    points = {}
    for w in result["workloads"]:
        m = re.fullmatch(r"tcp-rt-(\d+)", w["id"])
        if not m:
            continue
        for row in w["rows"]:
            if "median" in row:
                points.setdefault(row["system"], []).append((int(m.group(1)), row["median"]))
    if not points:
        return None
    width, height, left, right, top, bottom = 720, 400, 80, 250, 40, 50
    xs = sorted({c for pts in points.values() for c, _ in pts})
    ymax = max(v for pts in points.values() for _, v in pts) * 1.1
    import math
    lo, hi = math.log10(xs[0]), math.log10(xs[-1]) if xs[-1] > xs[0] else math.log10(xs[0]) + 1
    px = lambda c: left + (math.log10(c) - lo) / (hi - lo) * (width - left - right)
    py = lambda v: height - bottom - v / ymax * (height - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2 - 60}" y="22" font-size="14" text-anchor="middle">'
           f'TCP round trips/s against connections at once</text>']
    step = 10 ** math.floor(math.log10(ymax / 5))
    step *= 2 if ymax / step > 10 else 1
    y = 0
    while y <= ymax:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:,.0f}</text>')
        y += step
    for c in xs:
        out.append(f'<line x1="{px(c):.1f}" x2="{px(c):.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{px(c):.1f}" y="{height - bottom + 18}" text-anchor="middle">{c:,}</text>')
    out.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 10}" text-anchor="middle">'
               f'connections (log scale)</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" stroke="black"/>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" stroke="black"/>')
    for i, s in enumerate(PLOT):
        pts = sorted(points.get(s, []))
        if not pts:
            continue
        colour = PLOT_COLOURS[s]
        path = " ".join(f"{px(c):.1f},{py(v):.1f}" for c, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for c, v in pts:
            out.append(f'<circle cx="{px(c):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}"/>')
        ly = top + 10 + i * 20
        out.append(f'<line x1="{width - right + 15}" x2="{width - right + 35}" y1="{ly}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 40}" y="{ly + 4}">{NAMES[s].replace(" thread-per-connection server", " server")}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def replace_between(path, marker, text):
    """Replaces the text between a page's bench markers; False when the page has none."""
    if not os.path.exists(path):
        return False
    page = open(path).read()
    begin, end = f"<!-- bench:{marker}:begin -->", f"<!-- bench:{marker}:end -->"
    if begin not in page or end not in page:
        return False
    head, rest = page.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(path, "w").write(f"{head}{begin}\n{text}{end}{tail}")
    return True


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    result, problems = build(out)
    md = markdown(result)
    open(os.path.join(out, "report.md"), "w").write(md)
    json.dump(result, open(os.path.join(out, "report.json"), "w"), indent=2)
    plot = svg(result)
    if plot:
        open(os.path.join(out, "tcp-connections.svg"), "w").write(plot)
    print(md)
    print(f"(written: {out}/report.md, report.json{', tcp-connections.svg' if plot else ''})")
    if "--publish" in sys.argv:
        docs = sys.argv[sys.argv.index("--publish") + 1]
        body = md
        if plot:
            os.makedirs(os.path.join(docs, "images"), exist_ok=True)
            shutil.copy(os.path.join(out, "tcp-connections.svg"), os.path.join(docs, "images"))
            body += "\n![TCP round trips per second against connections at once](images/tcp-connections.svg)\n"
        source = f"\n\n(From `{result['command']}` on {result['date']}, {result['machine']}; the whole report is in the Performance chapter.)\n"
        ran = {w["id"] for w in result["workloads"]}
        one_thread = {"tcp-idle-rss", "tcp-idle-bytes", "tcp-idle-max-rss", "tcp-idle-max-bytes",
                      "tcp-rt-1", "tcp-rt-100", "tcp-rt-1000"}
        vs_udp = {"tcp-rt-1", "tcp-rt-1-core", "udp-rt", "udp-rt-core", "udp-rate"}
        notes = model_notes(result) + million_note(result)
        # A page's figures are replaced only by a run that measured all of them: a run of
        # some workloads (--only) leaves the others' figures as they were.
        for page, marker, needs, text in [
            ("performance.md", "results", None, body),
            ("tcp-vs-udp.md", "figures", vs_udp, table(result, vs_udp) + source),
            ("one-thread.md", "one-thread", one_thread,
             table(result, one_thread) + "\n\n" + "\n".join(notes) + source),
        ]:
            complete = needs <= ran if needs else "--only" not in result["command"]
            if not complete:
                print(f"not published into {os.path.join(docs, page)}: this run did not measure all its figures")
                continue
            done = replace_between(os.path.join(docs, page), marker, text)
            print(f"{'published into' if done else 'no bench markers in'} {os.path.join(docs, page)}")
    for p in problems:
        print(f"report: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
