#!/usr/bin/env python3
"""table.py results.tsv [--machine FILE] [--elapsed SECS] -> markdown on stdout.

Reads the rows fsbench.sh (FSBENCH_TSV) and bench/run.sh append:
    label  workload  median  unit  runs(comma-separated)  note
and prints, for every system, each figure with its speed ratio to `native` and to
`passthrough_ll`; then daemon memory per cached inode, memfs against passthrough
over tmpfs, and the performance goals with the numbers that decide them.

Ratios are speed ratios, so > 1 always means "faster than the reference":
    rates (entries/s, files/s, IOPS, MB/s):  system / reference
    times (s):                               reference / system
"""
import argparse
import re
import sys
from collections import OrderedDict

NATIVE = "native"
PTLL = "passthrough_ll"
# The memfs comparisons, on their own tree: over /dev/fuse, and both over io_uring.
SMALL_PAIRS = [("passthrough-tmpfs", "memfs"), ("passthrough-tmpfs-uring", "memfs-uring")]
SMALL = [lab for pair in SMALL_PAIRS for lab in pair]

WORKLOADS = [
    ("stat_cold", "stat walk, cold"),
    ("stat_warm", "stat walk, warm"),
    ("readdir_cold", "readdir walk, cold"),
    ("readdir_warm", "readdir walk, warm"),
    ("seqread_cold", "seq read 1 MiB blocks, cold"),
    ("randread_1j", "random 4 KiB read, 1 job"),
    ("randread_2j", "random 4 KiB read, 2 jobs"),
    ("create", "create+write 4 KiB+close"),
    ("unlink", "unlink"),
    ("seqwrite", "seq write 512 MiB + fsync"),
    ("tar_extract", "untar /usr/include"),
    ("findcat_extracted", "read back untarred tree, cold"),
    ("rm_tree", "rm -rf untarred tree"),
    ("findcat_inc", "find\\|cat inc/, cold"),
]
SMALL_WORKLOADS = [
    ("populate", "build tree (mkdir + create 256 B)"),
    ("create", "create+write 4 KiB+close x10,000"),
    ("unlink", "unlink x10,000"),
    ("stat_cold", "stat walk, kernel cache dropped"),
    ("stat_warm", "stat walk, warm"),
    ("stat_rewarm", "stat walk, third pass (asks the daemon nothing)"),
    ("readdir_cold", "readdir walk, kernel cache dropped"),
    ("readdir_warm", "readdir walk, warm"),
]


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def median(values):
    v = sorted(values)
    n = len(v)
    if not n:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def load(path):
    """Rows by label and workload. A workload reported more than once (bench/run.sh
    --rounds runs every system once per round) gets the median of all its runs."""
    rows = OrderedDict()
    notes = OrderedDict()
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 4:
                continue
            p += [""] * (6 - len(p))
            label, name, med, unit, runs, note = p[:6]
            rows.setdefault(label, {})
            if name == "note":
                notes.setdefault(label, []).append(note)
                continue
            runs = [x for x in runs.split(",") if x] or [med]
            r = rows[label].setdefault(name, {"unit": unit, "runs": [], "note": note})
            r["runs"] += runs
            if note and note not in r["note"]:
                r["note"] = (r["note"] + "; " + note) if r["note"] else note
    for label in rows:
        for r in rows[label].values():
            good = [num(x) for x in r["runs"] if num(x) is not None]
            m = median(good)
            r["med"] = "FAIL" if m is None else "%.6g" % m
            r["runs"] = ",".join(r["runs"])
    return rows, notes


def fmt(v, unit):
    if unit == "s":
        return "%.2f s" % v
    if unit == "kB":
        return "%.1f MiB" % (v / 1024)
    if unit == "MB/s":
        return "%.0f MB/s" % v
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


class Table:
    def __init__(self, rows, notes):
        self.rows, self.notes = rows, notes

    def get(self, label, name):
        return self.rows.get(label, {}).get(name)

    def value(self, label, name):
        r = self.get(label, name)
        return num(r["med"]) if r else None

    def cell(self, label, name):
        r = self.get(label, name)
        if r is None:
            return "—"
        v = num(r["med"])
        if v is None:
            return "**FAIL**"
        s = fmt(v, r["unit"])
        runs = [x for x in r["runs"].split(",") if x]
        nfail = runs.count("FAIL")
        if nfail:
            s += " (%d/%d runs FAIL)" % (nfail, len(runs))
        if "TIMED OUT" in r["note"]:
            s += " (timed out)"
        return s

    def ratio(self, label, ref, name):
        """speed of label relative to ref (> 1 = faster), or None"""
        a, b = self.value(label, name), self.value(ref, name)
        r = self.get(label, name)
        if a is None or b is None or a <= 0 or b <= 0:
            return None
        return b / a if r["unit"] == "s" else a / b

    def rcell(self, label, ref, name):
        x = self.ratio(label, ref, name)
        return "—" if x is None else "%.2f" % x

    def unit(self, name):
        for lab in self.rows:
            r = self.get(lab, name)
            if r:
                return r["unit"]
        return ""


def main_tables(t, out):
    systems = [s for s in t.rows if s not in SMALL and s != NATIVE]
    for sysname in systems:
        refs = [NATIVE] + ([PTLL] if sysname != PTLL and PTLL in t.rows else [])
        refs = [r for r in refs if r in t.rows]
        out.append("### %s\n" % sysname)
        head = ["workload", "unit"] + refs + [sysname] + ["%s / %s" % (sysname, r) for r in refs]
        out.append("| " + " | ".join(head) + " |")
        out.append("|---" * len(head) + "|")
        for name, desc in WORKLOADS:
            if t.get(sysname, name) is None:
                continue
            cells = [desc, t.get(sysname, name)["unit"]]
            cells += [t.cell(r, name) for r in refs] + [t.cell(sysname, name)]
            cells += [t.rcell(sysname, r, name) for r in refs]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")


def entries_walked(t, label):
    r = t.get(label, "stat_cold")
    if not r:
        return None
    m = re.search(r"(\d+) entries", r["note"])
    return int(m.group(1)) if m else None


def memory_table(t, out):
    labs = list(t.rows)
    if not labs:
        return
    out.append("### Daemon memory, mount time, machine load\n")
    out.append("| system | mount time | VmRSS at mount | VmRSS before walks | VmRSS after walks | entries walked | "
               "VmRSS after / entry | (after − at mount) / entry | VmHWM at end | load avg before→after |")
    out.append("|---" * 10 + "|")
    for s in labs:
        n = entries_walked(t, s)
        r0, r1 = t.value(s, "rss_at_mount"), t.value(s, "rss_after_walk")
        if r0 is None:  # older runs recorded only the RSS just before the walks
            r0 = t.value(s, "rss_before_walk")
        walk_ok = t.value(s, "stat_cold") is not None or t.value(s, "stat_warm") is not None
        per = delta = "—"
        if n and r1 is not None and walk_ok:
            per = "%.0f B" % (r1 * 1024 / n)
            if r0 is not None:
                delta = "%.0f B" % ((r1 - r0) * 1024 / n)
        elif not walk_ok:
            per = delta = "walk failed"
        if t.get(s, "rss_after_walk") is None:
            per = delta = "—"
        la = t.get(s, "loadavg")
        load = la["runs"].replace(",", " → ") if la else "—"
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s, t.cell(s, "mount_time"), t.cell(s, "rss_at_mount"), t.cell(s, "rss_before_walk"),
            t.cell(s, "rss_after_walk"),
            "{:,}".format(n) if n else "—", per, delta, t.cell(s, "rss_peak"), load))
    out.append("")


def small_table(t, out):
    for a, b in SMALL_PAIRS:
        small_pair_table(t, out, a, b)


def small_pair_table(t, out, a, b):
    if a not in t.rows or b not in t.rows:
        return
    how = " over io_uring" if a.endswith("-uring") else ""
    out.append("### %s against %s (same workload, separate daemons%s)\n" % (b, a, how))
    n = entries_walked(t, b) or entries_walked(t, a)
    if n:
        out.append("Tree: %s entries built through the mount, then walked.\n" % "{:,}".format(n))
    out.append("| workload | unit | %s | %s | %s / %s |" % (a, b, b, a))
    out.append("|---|---|---|---|---|")
    for name, desc in SMALL_WORKLOADS:
        if t.get(a, name) is None and t.get(b, name) is None:
            continue
        out.append("| %s | %s | %s | %s | %s |" % (desc, t.unit(name), t.cell(a, name), t.cell(b, name),
                                               t.rcell(b, a, name)))
    out.append("")


def verdict(ok):
    return "**met**" if ok else "**MISSED**"


def goals(t, out):
    out.append("### Goals\n")
    lines = []
    for v in ("vfsmux-1", "vfsmux-3", "vfsmux-1-uring", "vfsmux-3-uring"):
        if v not in t.rows or PTLL not in t.rows:
            continue
        both, below = [], []
        for name, desc in WORKLOADS:
            x = t.ratio(v, PTLL, name)
            if x is None:
                continue
            both.append(name)
            if x < 1.0:
                below.append("%s %.2f" % (name, x))
        if both:
            lines.append("* %s ≥ passthrough_ll on every workload both complete (%d workloads): %s%s" % (
                v, len(both), verdict(not below), "" if not below else "; below 1.00: " + ", ".join(below)))
        else:
            lines.append("* %s ≥ passthrough_ll: no workload completed on both" % v)
    for v in ("vfsmux-1", "vfsmux-3", "vfsmux-1-uring", "vfsmux-3-uring"):
        x = t.ratio(v, NATIVE, "stat_warm")
        if x is not None:
            lines.append("* %s warm stat walk ≥ 0.4 × native: %.2f %s" % (v, x, verdict(x >= 0.4)))
    for one, three in (("vfsmux-1", "vfsmux-3"), ("vfsmux-1-uring", "vfsmux-3-uring")):
        if one not in t.rows or three not in t.rows:
            continue
        slow, allr = [], []
        for name, desc in WORKLOADS:
            x = t.ratio(three, one, name)
            if x is None:
                continue
            allr.append("%s %.2f" % (name, x))
            if x < 0.9:
                slow.append("%s %.2f" % (name, x))
        if allr:
            lines.append("* three mounts no slower than one (%s / %s ≥ 0.90 on each workload, "
                         "the 10%% allowing for run-to-run noise): %s%s. All ratios: %s" % (
                             three, one, verdict(not slow), "" if not slow else "; slower: " + ", ".join(slow),
                             ", ".join(allr)))
    for a, b in SMALL_PAIRS:
        if a not in t.rows or b not in t.rows:
            continue
        for name in ("create", "stat_cold"):
            x = t.ratio(b, a, name)
            if x is None:
                lines.append("* %s ≥ 1.5 × %s on %s: no figure" % (b, a, name))
            else:
                lines.append("* %s ≥ 1.5 × %s on %s: %.2f %s" % (b, a, name, x, verdict(x >= 1.5)))
        # The warm walk is the kernel's: one GETATTR per directory reaches either
        # daemon. Its ceiling: the other's warm walk against a walk that asks nothing.
        x = t.ratio(b, a, "stat_warm")
        ta, tb = t.value(a, "stat_warm"), t.value(b, "stat_rewarm")
        if x is not None:
            lines.append("* %s on the warm stat walk: %.2f × %s, not a measure of the backend: the "
                         "kernel answers it but for one GETATTR per directory%s" % (
                             b, x, a, "" if not (ta and tb) else
                             "; with a daemon that cost nothing the ratio would be %.2f (third pass)" % (tb / ta)))
    out.extend(lines or ["(no goal could be evaluated from these rows)"])
    out.append("")


def notes(t, out):
    lines = []
    for lab, ns in t.notes.items():
        for n in ns:
            lines.append("* %s: %s" % (lab, n))
    for lab, rs in t.rows.items():
        for name, r in rs.items():
            runs = [x for x in r["runs"].split(",") if x]
            if "FAIL" in runs:
                lines.append("* %s %s: runs %s" % (lab, name, r["runs"]))
    if lines:
        out.append("### Notes from the run\n")
        out.extend(lines)
        out.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--machine")
    ap.add_argument("--elapsed", type=int)
    a = ap.parse_args()
    rows, ns = load(a.tsv)
    t = Table(rows, ns)
    out = []
    if a.machine:
        out.append("```text")
        out.extend(l.rstrip("\n") for l in open(a.machine))
        if a.elapsed is not None:
            out.append("benchmark time: %d min %d s" % divmod(a.elapsed, 60))
        out.append("```\n")
    out.append("Ratios are speeds relative to the named system: > 1 means faster, "
               "for rates system/reference, for times reference/system. "
               "Median of the runs; client and daemon share the same 2 cores.\n")
    main_tables(t, out)
    memory_table(t, out)
    small_table(t, out)
    goals(t, out)
    notes(t, out)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
