#!/usr/bin/env python3
"""bench/report.py OUT [--publish DOCS_SRC] -- the report of a bench/run.sh run.

Reads OUT/samples.jsonl (one line per counted run: workload, system, run, value; or a
system that could not run, and why) and OUT/meta.json (mode, sizes, timings), and writes:

  OUT/report.md            one Markdown table: each workload, ours first, then each
                           baseline, median (min-max) of the counted runs, and how many
                           times better ours is than that baseline
  OUT/report.json          the same, with every run's value
  OUT/tcp-connections.svg  round trips/s against connection count, one line per server

and prints report.md. With --publish DOCS_SRC it also writes the book's figures:
DOCS_SRC/figures/performance.md (the whole report, from a run of every workload),
figures/tcp-vs-udp.md (the TCP and UDP figures that chapter quotes) and
figures/one-thread.md (the two models' figures), figures/tftp.md (TFTP's pairs) and
figures/tftp-cable.md (TFTP across the cable), each only from a run that measured all
of its figures; the pages include them. The plot goes to DOCS_SRC/images/, in English and
in Chinese.

  bench/report.py --translate-po POT     the Chinese of the figures: a catalog for the
                                         template POT that docs/i18n.sh extracts from
                                         DOCS_SRC/figures/ (exit 1, naming them, when a
                                         piece has no Chinese in SENTENCES or NAMES_ZH)
  bench/report.py --translate-svg IN OUT the plot IN with its words in Chinese

Exit status 1 when one of our programs has no measurement in a workload that ran, and no
reason was recorded for it (a reason: no tmpfs for the RAM upload, say): the smoke run in
CI uses that to make sure the benchmark itself still works.
"""

import json
import os
import platform
import re
import statistics
import string
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
    ("upload-resume", "the same upload broken off at 50%, then resumed: the resumed send alone, against a fresh one", "s", False,
     ["resumed", "fresh"], "{:,.3f}"),
    ("upload-resume-cable", "the same, a {resume_cable_mib:,} MiB file across the cable at {resume_cable_rate} (a link slower than the disk)", "s", False,
     ["resumed", "fresh"], "{:,.3f}"),
    ("upload-folder", "a folder of {folder_files:,} files of {folder_kib} KiB over loopback into a folder on disk", "s", False,
     ["upload", "tar+nc", "fsync-floor"], "{:,.3f}"),
    ("sha256-time", "SHA-256 of the same {file_mib:,} MiB file", "s", False,
     ["upload-sum", "sha256sum", "openssl"], "{:,.3f}"),
    ("cable-mbps", "the cable, no faults: iperf3's TCP throughput through it", "Mbit/s", True,
     ["cable", "loopback"], "{:,.0f}"),
    ("cable-rtt", "the cable, no faults: median round trip of a datagram (udp-client, 1 per ms)", "µs", False,
     ["cable", "loopback"], "{:,.1f}"),
    ("cable-added", "the cable, no faults: what it adds to each packet (half the round trips' difference)", "µs", False,
     ["cable"], "{:,.1f}"),
    ("tftp-default", "TFTP, a {tftp_mib:,} MiB get over loopback, 512-byte blocks one at a time (RFC 1350)", "MB/s", True,
     ['tftp/tftp', 'tftp/curl', 'tftp/tftp-hpa', 'tftp/atftp', 'atftpd/tftp', 'atftpd/curl', 'atftpd/tftp-hpa', 'atftpd/atftp', 'tftpd-hpa/tftp', 'tftpd-hpa/curl', 'tftpd-hpa/tftp-hpa', 'tftpd-hpa/atftp'], "{:,.1f}"),
    ("tftp-best", "TFTP, the same get at the best options each pair agrees on (blksize 65464, windowsize 64)", "MB/s", True,
     ['tftp/tftp', 'tftp/curl', 'tftp/atftp', 'atftpd/tftp', 'atftpd/curl', 'atftpd/atftp', 'tftpd-hpa/tftp', 'tftpd-hpa/curl', 'tftpd-hpa/atftp'], "{:,.1f}"),
    ("startup", "start-up: exec to exit of --version", "ms", False,
     ["upload", "tcp-server", "tcp-client", "udp-server", "udp-client", "python", "socat"], "{:,.2f}"),
]
# Workloads whose figure may be 0 for a run that went right.
ZERO_IS_A_READING = {"tcp-idle-bytes", "tcp-idle-max-bytes"}
OURS = {"tcp-server", "tcp-server-poll", "udp-server", "udp-server-thread", "upload", "upload-sum",
        "tcp-client", "udp-client", "cable", "tftp/tftp", "resumed"}
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
    "resumed": "upload, resumed at 50% (the first half hashed again on both sides)",
    "fresh": "upload, the whole file from byte 0",
    "iperf3": "iperf3, memory to memory (ceiling)",
    "upload-sum": "upload sum",
    "sha256sum": "sha256sum",
    "openssl": "openssl dgst -sha256",
    "tcp-client": "tcp-client",
    "udp-client": "udp-client",
    "cable": "cable run (lab-left to lab-right)",
    "loopback": "loopback, no cable (the kernel alone: ceiling)",
    # TFTP: server ← client.
    "tftp/tftp": "tftp serve ← tftp get",
    "tftp/curl": "tftp serve ← curl",
    "tftp/tftp-hpa": "tftp serve ← tftp (tftp-hpa)",
    "tftp/atftp": "tftp serve ← atftp",
    "atftpd/tftp": "atftpd ← tftp get",
    "atftpd/curl": "atftpd ← curl",
    "atftpd/tftp-hpa": "atftpd ← tftp (tftp-hpa)",
    "atftpd/atftp": "atftpd ← atftp",
    "tftpd-hpa/tftp": "in.tftpd (tftpd-hpa) ← tftp get",
    "tftpd-hpa/curl": "in.tftpd (tftpd-hpa) ← curl",
    "tftpd-hpa/tftp-hpa": "in.tftpd (tftpd-hpa) ← tftp (tftp-hpa)",
    "tftpd-hpa/atftp": "in.tftpd (tftpd-hpa) ← atftp",
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

# The Chinese edition of the book (docs/po, gettext) translates these figures too, with a
# catalog made at build time from the words below (`report.py --translate-po POT`, run by
# docs/i18n.sh): a new run needs no translator, and a sentence changed here without its
# Chinese fails `docs/i18n.sh check`, which names it.
TITLES_ZH = {
    "tcp-rt-1": "TCP，1 个连接，一问一答的往返",
    "tcp-rt-1-core": "TCP，1 个连接，服务器和客户端绑定在同一个核上",
    "tcp-rt-10": "TCP，同时 10 个连接",
    "tcp-rt-100": "TCP，同时 100 个连接",
    "tcp-rt-1000": "TCP，同时 1,000 个连接",
    "tcp-idle-rss": "TCP，{idle} 个空闲连接时服务器的内存",
    "tcp-idle-bytes": "TCP，每个空闲连接占用的服务器内存，保持 {idle} 个",
    "tcp-idle-max-rss": "TCP，{idle_max} 个连接、每个做一次往返时服务器的峰值内存",
    "tcp-idle-max-bytes": "TCP，每个空闲连接占用的服务器内存，保持 {idle_max} 个",
    "udp-rt": "UDP，一问一答的往返",
    "udp-rt-core": "UDP，一问一答，服务器和客户端绑定在同一个核上",
    "udp-rate": "UDP，丢包率低于 1% 时能应答的最高速率",
    "upload-time": "经回环地址上传一个 {file_mib} MiB 的文件，写进磁盘上的文件，端到端",
    "upload-time-ram": "同样的上传，写进 tmpfs（没有磁盘）",
    "upload-cpu-ram": "同样的上传写进 tmpfs：双方 CPU 时间之和",
    "upload-rss-send": "上传：发送方的峰值内存",
    "upload-rss-recv": "上传：接收方的峰值内存",
    "upload-resume": "同样的上传在 50% 处中断后续传：只算续传那一次，与完整的一次相比",
    "upload-resume-cable": "同样的续传，一个 {resume_cable_mib} MiB 的文件，隔着 {resume_cable_rate} 的网线（比磁盘慢的链路）",
    "upload-folder": "一个装着 {folder_files} 个 {folder_kib} KiB 文件的文件夹，经回环地址写进磁盘上的文件夹",
    "sha256-time": "同一个 {file_mib} MiB 文件的 SHA-256",
    "cable-mbps": "网线，无故障：iperf3 穿过它的 TCP 吞吐量",
    "cable-rtt": "网线，无故障：一个数据报往返时间的中位数（udp-client，每毫秒一个）",
    "cable-added": "网线，无故障：它给每个包增加的时间（两种往返时间之差的一半）",
    "tftp-default": "TFTP，经回环地址 get 一个 {tftp_mib} MiB 的文件，512 字节的块，一次一块（RFC 1350）",
    "tftp-best": "TFTP，同样的 get，用每一对都接受的最好的选项（blksize 65464，windowsize 64）",
    "startup": "启动：从 exec 到 --version 退出",
}
UNITS_ZH = {"MB/s": "MB/s", "round trips/s": "次往返/秒", "requests/s": "个请求/秒", "MiB": "MiB", "bytes": "字节",
            "s": "秒", "CPU s": "CPU 秒", "ms": "毫秒", "Mbit/s": "Mbit/s", "µs": "微秒"}
BETTER = {True: ("higher is better", "越高越好"), False: ("lower is better", "越低越好")}
# Program names that are words, not commands (the others stay as they are).
NAMES_ZH = {
    "the tutorial's server with asyncio (Python)": "用 asyncio 写的教程服务器（Python）",
    "std thread-per-connection server": "std 每连接一线程服务器",
    "std server": "std 服务器",
    "the tutorial in Python 3": "教程的程序（Python 3）",
    "nc (no checksum, no fsync)": "nc（不校验，不 fsync）",
    "nc, then sync": "nc，然后 sync",
    "cat, then sync: a local copy, no network (the disk alone)": "cat，然后 sync：本地复制，没有网络（只有磁盘）",
    "upload, resumed at 50% (the first half hashed again on both sides)": "upload，在 50% 处续传（两端都重新计算前一半的哈希）",
    "upload, the whole file from byte 0": "upload，从第 0 个字节发送整个文件",
    "iperf3, memory to memory (ceiling)": "iperf3，内存到内存（上限）",
    "cable run (lab-left to lab-right)": "cable run（从 lab-left 到 lab-right）",
    "loopback, no cable (the kernel alone: ceiling)": "回环，不经网线（只有内核：上限）",
}
HEADER = [("workload", "负载"), ("program", "程序"), ("median", "中位数"), ("min–max", "最小–最大"),
          ("ours better by", "我们的领先倍数")]
# Every sentence of the figures, in English and in Chinese. {x:,} in the English is the
# number as written; the Chinese takes the same text. bench/run.sh writes the reasons why
# a system could not run (`missing`); they are here for their Chinese.
SENTENCES = {
    "measured": ("Measured on {date} with `{command}` ({mode} mode: {runs} counted runs after {warmup} "
                 "warm-up, systems alternating; {seconds} s in all: {took}).",
                 "{date} 用 `{command}` 测得（{mode} 模式：{warmup} 次热身之后计数运行 {runs} 次，"
                 "各系统轮流上场；共 {seconds} 秒：{took}）。"),
    "machine": ("Machine: {machine}.", "机器：{machine}。"),
    "better": ("\"Ours better by\" is how many times better the first program in bold is than that row: "
               "its rate divided by theirs, or their time or memory divided by ours. Below 1.00× the "
               "baseline wins.",
               "“我们的领先倍数”是加粗的第一个程序比这一行好多少倍：它的速率除以对方的，"
               "或者对方的时间或内存除以它的。低于 1.00× 时基线程序胜出。"),
    "sizes": ("TCP messages are {payload} bytes; the 1-connection runs do {tcp_count:,} round trips, the "
              "others {counts} (connections × round trips each); UDP lock-step runs do {udp_count:,}.",
              "TCP 消息为 {payload} 字节；1 个连接的运行做 {tcp_count} 次往返，其余的做 {counts} 次"
              "（连接数 × 每个连接的往返次数）；UDP 一问一答的运行做 {udp_count} 次。"),
    "models": ("round trips/s of `--model poll` ÷ `--model thread`, by connections at once: {parts}",
               "`--model poll` 与 `--model thread` 每秒往返次数之比，按同时连接数：{parts}"),
    "million": ("a million idle connections on one host, on paper, at the bytes per connection measured "
                "with {idle:,} (the server's own memory; the kernel's memory for the sockets comes on top, "
                "the same in every model): {cost}",
                "纸上算一算一台主机上的一百万个空闲连接，按保持 {idle} 个时测得的每连接字节数"
                "（只算服务器自己的内存；内核为套接字占用的内存另计，每种模型都一样）：{cost}"),
    "flood": ("flood of {attempts:,} connection attempts against {name}: greeted {greeted:,}, refused with "
              "\"server busy\" {refused:,}, closed silently {silent:,}, could not connect {failed:,}; "
              "server alive after: {alive}; held connections still answered: {held:,}",
              "对 {name} 的 {attempts} 次连接尝试：收到问候 {greeted}，被“server busy”拒绝 {refused}，"
              "被悄悄关闭 {silent}，连接失败 {failed}；之后服务器还活着吗：{alive}；"
              "保持的连接仍有应答的：{held}"),
    "flood-failed": ("flood against {name}: no report (the tool failed)", "对 {name} 的洪泛：没有报告（工具失败了）"),
    "floor": ("the CPU floor of the tmpfs upload on this machine's {cores} cores (both sides' CPU seconds "
              "÷ {cores}; no run can be faster): {floors}",
              "这台机器 {cores} 个核上 tmpfs 上传的 CPU 下限（双方的 CPU 秒数 ÷ {cores}；"
              "没有哪次运行能更快）：{floors}"),
    "source": ("(From `{command}` on {date}, {machine}; the whole report is in the Performance chapter.)",
               "（来自 {date} 的 `{command}`，{machine}；完整的报告在“性能”一章。）"),
    "plot": ("![TCP round trips per second against connections at once](images/tcp-connections.svg)",
             "![TCP 每秒往返次数与同时连接数](images/tcp-connections.zh-CN.svg)"),
    "no-measurement": ("no measurement", "没有测量值"),
    "not-installed": ("not installed", "未安装"),
    "hpa-root": ("in.tftpd -s needs root (it chroots)", "in.tftpd -s 需要 root（它要 chroot）"),
    "no-taskset": ("taskset not installed", "未安装 taskset"),
    "no-tmpfs": ("no tmpfs at /dev/shm with room for 2 files", "/dev/shm 上没有能放下 2 个文件的 tmpfs"),
    "socat-slow": ("not run: socat opens about 10 connections a second", "未运行：socat 每秒只能打开大约 10 个连接"),
    "max-map-count": ("not run: {threads} threads need about {maps} memory maps, more than vm.max_map_count "
                      "({limit}) allows; the process would be aborted at about {at} connections",
                      "未运行：{threads} 个线程大约需要 {maps} 个内存映射，超过了 vm.max_map_count"
                      "（{limit}）允许的数量；进程会在大约 {at} 个连接时被中止"),
}
# The matrix of TCP against UDP across the cable (tcpudp_table): its header, and how its
# cells read.
TCPUDP_CELLS = ["0:0", "0:1", "0:5", "20:0", "20:1", "20:5", "100:0", "100:1", "100:5"]
TCPUDP_HEADER = [("RTT, loss each way", "RTT，每个方向的丢包率"),
                 ("TCP, lock-step round trips/s", "TCP，一问一答，每秒往返次数"),
                 ("UDP, lock-step round trips/s (requests lost)", "UDP，一问一答，每秒往返次数（丢失的请求）"),
                 ("UDP at that rate: datagrams answered", "UDP 以同样的速率发送：得到应答的数据报")]
SENTENCES.update({
    "tcpudp-title": ("TCP against UDP across the cable: medians of {runs} runs (`bench/run.sh --only tcpudp`).",
                     "隔着网线比较 TCP 和 UDP：{runs} 次运行的中位数（`bench/run.sh --only tcpudp`）。"),
    "tcpudp-upload": ("TCP, {mib} MiB upload: time (rate)", "TCP，上传 {mib} MiB：时间（速率）"),
    "tcpudp-cell": ("{rtt} ms, {loss}%", "{rtt} 毫秒，{loss}%"),
    "tcpudp-lost": ("{n} ({p}% lost)", "{n}（丢失 {p}%）"),
    "tcpudp-time": ("{s} s ({rate} MB/s)", "{s} 秒（{rate} MB/s）"),
})

# TFTP across the cable (tftpcable_table): stop-and-wait against windows and TCP.
TFTPCABLE_CELLS = ["20:0", "20:1", "20:5", "100:0", "100:1", "100:5"]
TFTPCABLE_HEADER = [("RTT, loss each way", "RTT，每个方向的丢包率"),
                    ("TFTP, 512-byte blocks one at a time (at best 512 B per RTT)", "TFTP，512 字节的块，一次一块（最多每个 RTT 512 字节）"),
                    ("TFTP, blksize 1428", "TFTP，blksize 1428"),
                    ("TFTP, blksize 1428, windowsize 16", "TFTP，blksize 1428，windowsize 16"),
                    ("upload over TCP", "upload，走 TCP")]
SENTENCES.update({
    "tftpcable-title": ("TFTP across the cable, in kB/s: medians of {runs} runs (`bench/run.sh --only tftpcable`).",
                        "隔着网线的 TFTP，单位 kB/s：{runs} 次运行的中位数（`bench/run.sh --only tftpcable`）。"),
    "tftpcable-best": ("{v} (best {best})", "{v}（上限 {best}）"),
})

# The plot's words (svg_zh).
PLOT_TITLE = ("TCP round trips/s against connections at once", "TCP 每秒往返次数与同时连接数")
PLOT_AXIS = ("connections (log scale)", "同时连接数（对数刻度）")



def say(key, **values):
    """The English of one sentence of the figures (SENTENCES), filled in."""
    return SENTENCES[key][0].format(**values)


def pattern(template):
    """A regex that matches what template.format(...) writes: each {field} a named group."""
    out, seen = "", set()
    for literal, field, _, _ in string.Formatter().parse(template):
        out += re.escape(literal)
        if field is not None:
            out += f"(?P={field})" if field in seen else f"(?P<{field}>.+?)"
            seen.add(field)
    return re.compile(out)


def names_zh(text):
    """Every program name in text in its Chinese (the longest names first)."""
    for en in sorted(NAMES_ZH, key=len, reverse=True):
        text = text.replace(en, NAMES_ZH[en])
    return text


def list_zh(text):
    """A list the English joins with ", " (numbers keep their own commas), with seconds."""
    return re.sub(r"(\d) s\b", r"\1 秒", names_zh(text)).replace(", ", "，")


# How a value taken out of an English sentence reads in the Chinese one.
VALUE_ZH = {
    "name": names_zh, "took": list_zh, "counts": list_zh, "cost": list_zh, "floors": list_zh,
    "parts": lambda v: list_zh(v.replace(" (one core)", "（一个核）").replace(": ", "：")),
    "alive": lambda v: {"yes": "是", "**no**": "**否**"}.get(v, v),
}


def translate(msgid):
    """The Chinese of one piece of the figures' Markdown (a table cell, a paragraph, a list
    item), or None when this vocabulary does not know it."""
    text = msgid.strip()
    if re.fullmatch(r"[\d,.\s×—–%-]*", text) or re.fullmatch(r"`[^`]+`", text):
        return text  # numbers, ratios, ranges; a command
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        inner = translate(text[2:-2])
        return None if inner is None else f"**{inner}**"
    header = dict(HEADER + TCPUDP_HEADER + TFTPCABLE_HEADER)
    if text in header:
        return header[text]
    if text in NAMES or text in NAMES.values() or text in STARTUP_NAMES.values():
        return NAMES_ZH.get(text, text)
    templates = [(f"{title} ({unit}, {BETTER[higher][0]})",
                  f"{TITLES_ZH[wid]}（{UNITS_ZH[unit]}，{BETTER[higher][1]}）")
                 for wid, title, unit, higher, _, _ in WORKLOADS]
    for en, zh in templates + list(SENTENCES.values()):
        m = pattern(en).fullmatch(text)
        if m:
            return zh.format(**{k: VALUE_ZH.get(k, str)(v) for k, v in m.groupdict().items()})
    return None


def po_strings(pot):
    """The msgids of a .pot file (gettext's C-style quoting undone), header excluded."""
    ids, current = [], None
    unquote = lambda q: re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), q)
    for line in open(pot, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("msgid "):
            current = [unquote(line[7:-1])]
        elif line.startswith('"') and current is not None:
            current.append(unquote(line[1:-1]))
        else:
            if current is not None and "".join(current):
                ids.append("".join(current))
            current = None
    return ids


def translate_po(pot):
    """Prints a Chinese catalog for the figures' template POT; exit status 1, naming them,
    when some pieces have no Chinese."""
    quote = lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    print('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: zh-CN\\n"\n')
    unknown = []
    for msgid in po_strings(pot):
        zh = translate(msgid)
        if zh is None:
            unknown.append(msgid)
            continue
        print(f"msgid {quote(msgid)}\nmsgstr {quote(zh)}\n")
    for msgid in unknown:
        print(f"report.py: no Chinese for this piece of the figures (add it to SENTENCES or "
              f"NAMES_ZH in bench/report.py): {msgid!r}", file=sys.stderr)
    return 1 if unknown else 0


def pieces(md):
    """The pieces of the report's Markdown that the Chinese catalog translates one by one:
    table cells, list items, paragraphs (what mdbook-xgettext makes messages of)."""
    out = []
    for line in md.split("\n"):
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            out += [cell.strip() for cell in line.strip()[1:-1].split("|")]
        elif line.startswith("- "):
            out.append(line[2:])
        elif line.strip():
            out.append(line)
    return [p for p in out if p]


def svg_zh(svg_text):
    """The plot with its words in Chinese (title, axis, and the legend's names)."""
    def text(m):
        label = m.group(2)
        for en, zh in (PLOT_TITLE, PLOT_AXIS):
            label = zh if label == en else label
        return m.group(1) + NAMES_ZH.get(label, label) + m.group(3)
    return re.sub(r"(<text[^>]*>)([^<]*)(</text>)", text, svg_text)

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
                # Ours at zero: a run that failed and was recorded as if it were a figure.
                # (Bytes per idle connection are a difference of two memory readings: with
                # few connections, as in the smoke run, 0 is a fair reading.)
                if s in OURS and min(vals) <= 0 and wid not in ZERO_IS_A_READING:
                    problems.append(f"{wid}: {s} measured {min(vals)} in a run: a failed run, not a figure")
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
    # TCP against UDP across the cable: a median per cell and measure.
    result["tcpudp"] = {}
    for (w, s), vals in samples.items():
        if w.startswith("tcpudp-"):
            result["tcpudp"].setdefault(s, {})[w[len("tcpudp-"):]] = statistics.median(vals)
    for (w, s), reason in why.items():
        if w == "tcpudp":
            result["tcpudp"].setdefault(s, {})["missing"] = reason
    result["tftpcable"] = {}
    for (w, s), vals in samples.items():
        if w.startswith("tftpcable-"):
            result["tftpcable"].setdefault(s, {})[w[len("tftpcable-"):]] = statistics.median(vals)
    for (w, s), reason in why.items():
        if w == "tftpcable":
            result["tftpcable"].setdefault(s, {})["missing"] = reason
    result["floods"] = {}
    for s in ("tcp-server", "std"):
        p = os.path.join(out, f"flood-{s}.json")
        if os.path.exists(p):
            try:
                result["floods"][s] = json.load(open(p))
            except ValueError:
                result["floods"][s] = None
                if s in OURS:
                    problems.append(f"flood: no report of {s} (the flood tool's output is not JSON)")
    return result, problems


def prog(name):
    """A program as the book writes it: a command as code (so that `--quiet` keeps its two
    hyphens, which Markdown would make a dash), a description (NAMES_ZH) in words."""
    return name if name in NAMES_ZH else f"`{name}`"


def name(wid, s):
    if wid == "startup":
        return STARTUP_NAMES.get(s, s)
    return NAMES.get(s, s)


def table(result, ids=None):
    lines = ["| " + " | ".join(en for en, _ in HEADER) + " |", "|---|---|---|---|---|"]
    for w in result["workloads"]:
        if ids and w["id"] not in ids:
            continue
        fmt = w["fmt"]
        first = True
        for row in w["rows"]:
            label = f"{w['title']} ({w['unit']}, {BETTER[w['higher_is_better']][0]})" if first else ""
            first = False
            prog_cell = f"**{prog(row['name'])}**" if row["ours"] else prog(row["name"])
            if "median" not in row:
                lines.append(f"| {label} | {prog_cell} | {row['missing']} | | |")
                continue
            ratio = "—" if row["ours_better_by"] is None else f"{row['ours_better_by']:.2f}×"
            lines.append(f"| {label} | {prog_cell} | {fmt.format(row['median'])} "
                         f"| {fmt.format(row['min'])}–{fmt.format(row['max'])} | {ratio} |")
    return "\n".join(lines)


def flood_notes(result):
    notes = []
    for s, f in result["floods"].items():
        if not f:
            notes.append("- " + say("flood-failed", name=prog(NAMES[s])))
            continue
        notes.append("- " + say(
            "flood", attempts=f["attempts"], name=prog(NAMES[s]), greeted=f["greeted"],
            refused=f["refused_busy_message"], silent=f["closed_silently"], failed=f["connect_failed"],
            alive="yes" if f["server_alive_after"] else "**no**", held=f["held_answered_after"]))
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
    return ["- " + say("models", parts=", ".join(parts))]


def million_note(result):
    """A million idle connections on one host, at the measured bytes per connection."""
    per = medians(result, "tcp-idle-bytes")
    if not per:
        return []
    cost = ", ".join(f"{prog(NAMES[s])} {v * 1e6 / 2**30:,.1f} GiB" for s, v in sorted(per.items(), key=lambda x: x[1]))
    return ["- " + say("million", idle=result["sizes"]["idle"], cost=cost)]


def cpu_floor_note(result):
    """CPU seconds / cores: no transfer can take less time than that on this machine."""
    cores = os.cpu_count() or 1
    for w in result["workloads"]:
        if w["id"] != "upload-cpu-ram":
            continue
        floors = [f"{prog(row['name'].split(' (')[0])} {row['median'] / cores:.2f} s"
                  for row in w["rows"] if "median" in row]
        if floors:
            return ["- " + say("floor", cores=cores, floors=", ".join(floors))]
    return []


def tcpudp_table(result):
    """The matrix of TCP against UDP across the cable, or "" when it was not measured."""
    cells = result.get("tcpudp") or {}
    if not cells:
        return ""
    sizes = result["sizes"]
    head = [en for en, _ in TCPUDP_HEADER]
    head.insert(3, say("tcpudp-upload", mib=f"{sizes.get('tcpudp_mib', 10):g}"))
    lines = [say("tcpudp-title", runs=sizes.get("tcpudp_runs", 1)), "",
             "| " + " | ".join(head) + " |", "|---|---|---|---|---|"]
    for cell in [c for c in TCPUDP_CELLS if c in cells] + sorted(set(cells) - set(TCPUDP_CELLS)):
        m = cells[cell]
        rtt, loss = cell.split(":")
        label = say("tcpudp-cell", rtt=rtt, loss=loss)
        if "missing" in m or "tcp-rt" not in m:
            lines.append(f"| {label} | {m.get('missing', say('no-measurement'))} | | | |")
            continue
        lines.append("| " + " | ".join([
            label,
            f"{m['tcp-rt']:,.1f}",
            say("tcpudp-lost", n=f"{m['udp-rt']:,.1f}", p=f"{m['udp-lost']:.1f}"),
            say("tcpudp-time", s=f"{m['tcp-s']:,.2f}", rate=f"{m['tcp-rate'] / 1e6:,.2f}"),
            f"{m['udp-answered']:.1f}%",
        ]) + " |")
    return "\n".join(lines) + "\n"


def tftpcable_table(result):
    """TFTP across the cable, or "" when it was not measured."""
    cells = result.get("tftpcable") or {}
    if not cells:
        return ""
    lines = [say("tftpcable-title", runs=result["sizes"].get("tftpcable_runs", 1)), "",
             "| " + " | ".join(en for en, _ in TFTPCABLE_HEADER) + " |", "|---|---|---|---|---|"]
    for cell in [c for c in TFTPCABLE_CELLS if c in cells] + sorted(set(cells) - set(TFTPCABLE_CELLS)):
        m = cells[cell]
        rtt, loss = cell.split(":")
        label = say("tcpudp-cell", rtt=rtt, loss=loss)
        if "missing" in m or "512" not in m:
            lines.append(f"| {label} | {m.get('missing', say('no-measurement'))} | | | |")
            continue
        best = 512 / (int(rtt) / 1000) / 1000
        lines.append("| " + " | ".join([
            label,
            say("tftpcable-best", v=f"{m['512'] * 1000:,.1f}", best=f"{best:,.1f}"),
            f"{m['1428'] * 1000:,.1f}",
            f"{m['win'] * 1000:,.1f}",
            f"{m['upload'] * 1000:,.1f}",
        ]) + " |")
    return "\n".join(lines) + "\n"


def markdown(result):
    sizes = result["sizes"]
    took = ", ".join(f"{k} {v} s" for k, v in result["workload_seconds"].items())
    parts = [
        say("measured", date=result["date"], command=result["command"], mode=result["mode"],
            runs=result["runs"], warmup=result["warmup"], seconds=result["seconds"], took=took),
        "",
        say("machine", machine=result["machine"]),
        "",
        say("better"),
        "",
        table(result),
    ]
    if any(w["id"].startswith(("tcp-rt", "udp-rt")) for w in result["workloads"]):
        counts = ", ".join(f"{c:,} × {n:,}" for c, n in zip(sizes["conns"], sizes["conn_counts"]))
        parts += ["", say("sizes", payload=sizes["payload"], tcp_count=sizes["tcp_count"], counts=counts,
                          udp_count=sizes["udp_count"])]
    notes = model_notes(result) + million_note(result) + flood_notes(result) + cpu_floor_note(result)
    if notes:
        parts += ["", *notes]
    matrix = tcpudp_table(result)
    if matrix:
        parts += ["", matrix]
    tftp_matrix = tftpcable_table(result)
    if tftp_matrix:
        parts += ["", tftp_matrix]
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
           f'{PLOT_TITLE[0]}</text>']
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
               f'{PLOT_AXIS[0]}</text>')
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


def publish(result, md, plot, docs):
    """Writes the book's figures: DOCS/figures/PAGE.md, included by the page of that name,
    and the plot in DOCS/images/, in English and in Chinese (the figures' Chinese text
    comes from translate_po when the Chinese edition is built)."""
    body = md
    if plot:
        os.makedirs(os.path.join(docs, "images"), exist_ok=True)
        open(os.path.join(docs, "images", "tcp-connections.svg"), "w").write(plot)
        open(os.path.join(docs, "images", "tcp-connections.zh-CN.svg"), "w").write(svg_zh(plot))
        body += "\n" + say("plot") + "\n"
    source = "\n\n" + say("source", command=result["command"], date=result["date"],
                          machine=result["machine"]) + "\n"
    ran = {w["id"] for w in result["workloads"]}
    one_thread = {"tcp-idle-rss", "tcp-idle-bytes", "tcp-idle-max-rss", "tcp-idle-max-bytes",
                  "tcp-rt-1", "tcp-rt-100", "tcp-rt-1000"}
    vs_udp = {"tcp-rt-1", "tcp-rt-1-core", "udp-rt", "udp-rt-core", "udp-rate"}
    notes = model_notes(result) + million_note(result)
    os.makedirs(os.path.join(docs, "figures"), exist_ok=True)
    # A page's figures are replaced only by a run that measured all of them: a run of
    # some workloads (--only) leaves the others' figures as they were.
    # The matrix has a file of its own, published from any run that measured every cell.
    matrix = tcpudp_table(result)
    cells = result.get("tcpudp") or {}
    matrix_path = os.path.join(docs, "figures", "tcp-vs-udp-cable.md")
    if all("tcp-rt" in cells.get(c, {}) for c in TCPUDP_CELLS):
        os.makedirs(os.path.dirname(matrix_path), exist_ok=True)
        open(matrix_path, "w").write(matrix + source)
        print(f"published into {matrix_path}")
    else:
        print(f"not published into {matrix_path}: this run did not measure all its cells")
    tftp_matrix = tftpcable_table(result)
    tftp_cells = result.get("tftpcable") or {}
    tftp_path = os.path.join(docs, "figures", "tftp-cable.md")
    if all("512" in tftp_cells.get(c, {}) for c in TFTPCABLE_CELLS):
        open(tftp_path, "w").write(tftp_matrix + source)
        print(f"published into {tftp_path}")
    else:
        print(f"not published into {tftp_path}: this run did not measure all its cells")
    for page, needs, text in [
        ("performance.md", None, body),
        ("tcp-vs-udp.md", vs_udp, table(result, vs_udp) + source),
        ("one-thread.md", one_thread, table(result, one_thread) + "\n\n" + "\n".join(notes) + source),
        ("tftp.md", {"tftp-default", "tftp-best"}, table(result, {"tftp-default", "tftp-best"}) + source),
    ]:
        path = os.path.join(docs, "figures", page)
        complete = needs <= ran if needs else "--only" not in result["command"]
        if not complete:
            print(f"not published into {path}: this run did not measure all its figures")
            continue
        open(path, "w").write(text)
        print(f"published into {path}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--translate-po":
        sys.exit(translate_po(sys.argv[2]))
    if len(sys.argv) >= 4 and sys.argv[1] == "--translate-svg":
        open(sys.argv[3], "w").write(svg_zh(open(sys.argv[2]).read()))
        return
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
    # Every run (the smoke run in CI too) checks that the book's Chinese edition can
    # translate what it wrote: a sentence added to the report without its Chinese fails.
    pieces_to_say = pieces(md) + [say("plot")] + [say("source", command=result["command"],
                                  date=result["date"], machine=result["machine"])]
    for piece in pieces_to_say:
        if translate(piece) is None:
            problems.append(f"no Chinese for this piece of the report (SENTENCES, TITLES_ZH or "
                            f"NAMES_ZH above): {piece!r}")
    if "--publish" in sys.argv:
        publish(result, md, plot, sys.argv[sys.argv.index("--publish") + 1])
    for p in problems:
        print(f"report: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
