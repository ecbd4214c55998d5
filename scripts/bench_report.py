"""Turning the benchmark's runs into tables (and summaries for --json)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys

from bench_procs import summary

# key, label, kind, raw baseline key, ratio key, target
ROWS = [
    ("enqueue_full", "delay(), one call each, synchronous=FULL", "rate", "raw_commit_full", "ratio_enqueue_full",
     ">= 85 % of raw; >= 5.4k/s"),
    ("enqueue_normal", "delay(), one call each, synchronous=NORMAL", "rate", "raw_commit_normal",
     "ratio_enqueue_normal", ">= 15k/s"),
    ("enqueue_transient", "apply_async(queue=<transient queue>), FULL", "rate", "raw_commit_normal",
     "ratio_enqueue_transient", ">= 15k/s"),
    ("bulk", "bulk enqueue, 1,000 per transaction (FULL)", "rate", "raw_bulk_full", "ratio_bulk", ">= 100k/s"),
    ("drain_rate", "drain, -c 2 --burst: worker start -> exit", "rate", None, None, ">= 10k/s"),
    ("drain_rate_to_last_done", "drain: worker start -> last job done", "rate", None, None, ""),
    ("drain_rate_jobs", "drain: first job start -> last job done", "rate", None, None, ""),
    ("claim_ack_1", "claim+ack in-process, 1 at a time (NORMAL)", "rate", "raw_claim_ack_1", "ratio_claim_ack_1", ""),
    ("claim_ack_32", "claim+ack in-process, 32 at a time (NORMAL)", "rate", "raw_claim_ack_32",
     "ratio_claim_ack_32", ""),
    ("latency_p50_ms", "latency p50, 1 job / 50 ms, idle worker", "ms", None, None, "<= 1.5 ms"),
    ("latency_p99_ms", "latency p99", "ms", None, None, "<= 5 ms"),
    ("latency_first_after_idle_ms", "latency of the first job after idle", "ms", None, None, "<= 5 ms"),
    ("latency_max_ms", "latency max", "ms", None, None, ""),
    ("idle_cpu_percent", "idle CPU, empty queue (main + children)", "pct", None, None, "<= 0.5 %"),
    ("start_to_first_done", "worker start -> first job done", "s", None, None, "<= 0.2 s"),
    ("idle_rss_kib", "worker RSS idle: main + 2 children", "kib", None, None, "reported"),
    ("idle_rss_main_kib", "worker RSS idle: main process", "kib", None, None, ""),
    ("drain_rss_peak_kib", "worker RSS, peak during the drain", "kib", None, None, ""),
]
RAW_LABELS = {
    "raw_commit_full": "raw INSERT+commit, WAL, FULL",
    "raw_commit_normal": "raw INSERT+commit, WAL, NORMAL",
    "raw_bulk_full": "raw executemany x1,000, FULL",
    "raw_claim_ack_1": "raw claim+ack x1, NORMAL",
    "raw_claim_ack_32": "raw claim+ack x32, NORMAL",
}


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
            "cpus": os.cpu_count(), "loadavg_at_start": load}


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value / 1000:.1f}k/s" if value >= 1000 else f"{value:.0f}/s"
    if kind == "ms":
        return f"{value:.2f} ms"
    if kind == "pct":
        return f"{value:.2f} %"
    if kind == "s":
        return f"{value:.3f} s"
    if kind == "kib":
        return f"{value / 1024:.1f} MiB"
    if kind == "ratio":
        return f"{100 * value:.0f} %"
    return f"{value:g}"


def cell(values: list, kind: str) -> tuple[str, str]:
    """(median, "min–max") of ``values``."""
    s = summary(values)
    if s is None:
        return "—", ""
    spread = f"{fmt(s['min'], kind)}–{fmt(s['max'], kind)}" if s["n"] > 1 else ""
    return fmt(s["median"], kind), spread


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def litequeue_table(runs: list[dict], config: dict) -> str:
    rows = []
    for key, label, kind, raw, ratio, target in ROWS:
        label = label.replace("drain,", f"drain {config['n']:,} no-ops,", 1)
        median, spread = cell([r.get(key) for r in runs], kind)
        raw_median = cell([r.get(raw) for r in runs], kind)[0] if raw else ""
        ratio_median, ratio_spread = cell([r.get(ratio) for r in runs], "ratio") if ratio else ("", "")
        ratio_cell = f"{ratio_median} ({ratio_spread})" if ratio_spread else ratio_median
        rows.append([label, median, spread, f"{RAW_LABELS[raw]}: {raw_median}" if raw else "", ratio_cell, target])
    return table(["metric", "median", "min–max", "raw SQLite, same run (median)", "litequeue/raw", "target"], rows)


def compare_table(report: dict) -> str:
    systems = [("litequeue", report["litequeue"], "drain_rate_to_last_done", "enqueue_full", "bulk")
               ] if report.get("litequeue") else []
    for name, peer in report["peers"].items():
        systems.append((name, peer.get("runs") or [], "drain_rate", "enqueue_rate", "bulk_rate"))
    rows = []
    for name, runs, drain, enqueue, bulk in systems:
        def med(key: str, kind: str, runs: list[dict] = runs) -> str:
            return cell([r.get(key) for r in runs], kind)[0]

        rows.append([name, med(enqueue, "rate"), med(bulk, "rate"), med(drain, "rate"),
                     f"{med('latency_p50_ms', 'ms')} / {med('latency_p99_ms', 'ms')}",
                     med("latency_first_after_idle_ms", "ms"), med("idle_cpu_percent", "pct"),
                     med("start_to_first_done", "s"), med("idle_rss_kib", "kib")])
    header = ["system", "enqueue, one call each", "bulk enqueue", "drain -> last done", "latency p50 / p99",
              "first after idle", "idle CPU", "start -> 1st done", "RSS idle"]
    lines = [table(header, rows), "", "Commands and notes:"]
    for name, peer in report["peers"].items():
        lines.append(f"- {name}: {peer.get('note', '')}")
        for what, text in (peer.get("commands") or {}).items():
            lines.append(f"    {what}: {text}")
        if peer.get("error"):
            lines.append(f"    NOT MEASURED: {peer['error']}")
    return "\n".join(lines)


def growth_table(growth: dict, jobs: int) -> str:
    scenarios = growth["scenarios"]
    base = scenarios.get("empty") or []
    rows = []
    for name, runs in scenarios.items():
        row = [growth["labels"][name]]
        for key, kind in (("drain_rate", "rate"), ("claim_ack_1", "rate"), ("claim_ack_32", "rate")):
            median = cell([r.get(key) for r in runs], kind)[0]
            s, b = summary([r.get(key) for r in runs]), summary([r.get(key) for r in base])
            ratio = f" ({100 * s['median'] / b['median']:.0f} %)" if s and b and name != "empty" else ""
            row.append(median + ratio)
        row.append(cell([r.get("drain_rss_peak_kib") for r in runs], "kib")[0])
        rows.append(row)
    header = ["store", f"drain {jobs:,}, -c 2 (vs empty)", "claim+ack x1", "claim+ack x32", "worker RSS peak"]
    return table(header, rows) + "\n" + "\n".join(f"  {line}" for line in growth["notes"])


def render(report: dict) -> str:
    config, m = report["config"], report["machine"]
    out = [f"litequeue benchmark — Python {m['python']}, SQLite {m['sqlite']}, {m['cpus']} CPUs, "
           f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'] or [])}; "
           f"{config['runs']} run(s), median with min–max; {report['seconds']:.0f} s in all."]
    if report.get("litequeue"):
        runs = report["litequeue"]
        out += ["", litequeue_table(runs, config), "",
                f"bulk enqueue API: {runs[0].get('bulk_api')}",
                f"drain worker (run from scripts/): {runs[0].get('worker_command')}",
                f"latency: {config['samples']} jobs one every 50 ms after {config['idle_wait']:g} s idle; start time = "
                "time.time() at the top of the task; enqueue time = just before apply_async().",
                "enqueue and bulk: raw inserts interleaved with litequeue's, 1,000 at a time, in the same process; "
                "the raw table has litequeue's columns, an integer key and a unique task_id.",
                "claim+ack: Store.claim then Store.finish in one process (no pool); raw: the same UPDATE ... RETURNING "
                "over a plain table with an index on (queue, state, priority DESC, id)."]
    if report.get("long"):
        r = report["long"][0]
        out += ["", f"long drain of {r['long_jobs']:,} jobs in {r['long_seconds']:.0f} s: worker RSS (main + children) "
                f"{fmt(r.get('long_rss_early_kib'), 'kib')} early, {fmt(r.get('long_rss_late_kib'), 'kib')} late, "
                f"growth {fmt(r.get('long_rss_growth_kib'), 'kib')}, max {fmt(r.get('long_rss_max_kib'), 'kib')}"
                f"{' (' + r['long_note'] + ')' if r.get('long_note') else ''}; early/late: 5 % / 95 % done."]
    if report.get("growth"):
        growth = report["growth"]
        out += ["", f"Growth ({growth['backlog']:,}-job backlog):", growth_table(growth, config["n"])]
    if report.get("workflows"):
        import bench_workflows

        out += ["", bench_workflows.render(report["workflows"], config)]
    if report.get("revoke"):
        runs = report["revoke"]
        med = {k: cell([r[f"revoke{k}_ms"] for r in runs], "ms")[0] for k in ("_p50", "_p95", "_stopped_p50",
                                                                               "_stored_p50")}
        out += ["", f"revoke(terminate=True) of a running job ({runs[0]['revoke_samples']} jobs per run, -c 2), "
                f"from the call until its process has stopped and the store reads REVOKED: p50 {med['_p50']}, "
                f"p95 {med['_p95']} (process stopped p50 {med['_stopped_p50']}, REVOKED stored p50 "
                f"{med['_stored_p50']}; target 100 ms)"]
    if report.get("mixed"):
        import bench_mixed

        out += ["", bench_mixed.render(report["mixed"])]
    if report.get("peers"):
        out += ["", "Side by side (median of runs; drain = worker start until the last job is done):",
                compare_table(report)]
    return "\n".join(out)


def with_summaries(report: dict) -> dict:
    """The report plus {metric: {median, min, max, n}} for the default metrics."""
    runs = report.get("litequeue") or []
    keys = sorted({k for r in runs for k, v in r.items() if isinstance(v, (int, float))})
    report["summary"] = {k: summary([r.get(k) for r in runs]) for k in keys}
    return report
