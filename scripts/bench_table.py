#!/usr/bin/python3
"""Turn bitlin_bench's Google Benchmark JSON into Markdown ratio tables and a target check.

    bitlin_bench --benchmark_out=bench.json --benchmark_out_format=json
    scripts/bench_table.py bench.json [more.json ...] [--png plot.png] [--compact]

Benchmark names (Google Benchmark appends /real_time, which is ignored here):
    gemv/<impl>/<N>x<K>/threads:<t>
    gemm/<impl>/<N>x<K>/tokens:<M>/threads:<t>
    gemv_cold/<impl>/<N>x<K>/threads:<t>
    stream_read/<bytes>/threads:<t>        counter GBps
    peak_int8/<instr>/threads:<t>          counter GMACs
GEMV results are stated as a fraction of the read bandwidth measured by the largest stream_read
at the same thread count, GEMM results as a fraction of the best peak_int8 at the same thread
count, both from the same JSON (one run, one machine state); the per-shape tables also state each
bitlin_<isa>[_<variant>] row against the best peak_int8 of its own ISA (avx2_* for bitlin_avx2*),
the ceiling of a kernel built on that ISA's multiply (a table kernel can pass it). Only the standard library is needed;
--png also needs matplotlib.
"""

import argparse
import json
import math
import re
import statistics
import sys
from collections import defaultdict

BITNET_2B_SHAPES = {(2560, 2560), (6912, 2560), (2560, 6912)}

# Issue 3, item 8.
TARGET_GEMM_PEAK_PER_CORE = 0.60  # GEMM, >= 128 tokens, BitNet-2B shapes, per core vs 1-thread peak
TARGET_GEMM_ABS_PER_CORE = 270.0  # the same target as the issue states it, in G MAC/s per core
TARGET_COLD_BW = 0.85  # cold GEMV weight bytes/s vs stream_read
TARGET_HOT_PEAK = 0.35  # hot GEMV MAC/s vs int8 peak at the same thread count
TARGET_GEMV_VS_EIGEN = 20.0
TARGET_GEMM_VS_EIGEN = 3.5

# Peers as measured on the AMD Zen 5 development machine of 2026-11-22 (llama.cpp TQ2_0 /
# bitnet.cpp I2_S, by hand, not by this script; the table labels them so): GEMV 2560x6912 hot and cold, and the 512-token
# GEMM rate on two cores.
PEER_GEMV_HOT_US = 113.0
PEER_GEMV_COLD_US = 155.0
PEER_GEMM_512_GMACS_2CORES = 163.0

TIME_TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}

NAME_RE = {
    "gemv": re.compile(r"^gemv/(?P<impl>[^/]+)/(?P<n>\d+)x(?P<k>\d+)/threads:(?P<t>\d+)$"),
    "gemv_cold": re.compile(r"^gemv_cold/(?P<impl>[^/]+)/(?P<n>\d+)x(?P<k>\d+)/threads:(?P<t>\d+)$"),
    "gemm": re.compile(
        r"^gemm/(?P<impl>[^/]+)/(?P<n>\d+)x(?P<k>\d+)/tokens:(?P<m>\d+)/threads:(?P<t>\d+)$"
    ),
    "stream_read": re.compile(r"^stream_read/(?P<bytes>\d+)/threads:(?P<t>\d+)$"),
    "peak_int8": re.compile(r"^peak_int8/(?P<instr>[^/]+)/threads:(?P<t>\d+)$"),
}
GEMV_THREADS_RE = re.compile(
    r"^gemv_threads/(?P<impl>[^/]+)/(?P<n>\d+)x(?P<k>\d+)/threads:(?P<t>\d+)$"
)
KIND_ORDER = {"gemv": 0, "gemm": 1, "gemv_cold": 2}


def base_name(entry):
    name = entry.get("run_name") or entry["name"]
    for suffix in ("/real_time", "/manual_time", "/process_time"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def single_threaded(name):
    return name.endswith("/threads:1")


def load_runs(paths, best=False, cpu_time=False):
    """name -> {'time_us', 'counters', 'label'}, plus the contexts of the files.

    A benchmark present several times (--benchmark_repetitions, or several JSON files) is reduced
    to its median run, or with best=True to its fastest run: on a shared machine the fastest of a
    few runs is the better estimate of what the code can do.

    cpu_time=True reports 1-thread benchmarks by the CPU time of their (only) thread instead of
    wall time, counters scaled to match: on a machine other processes load, that is closer to
    what the code does on an idle core. Multi-threaded ones keep wall time (the main thread's
    CPU time does not cover the workers).
    """
    iterations = defaultdict(list)
    aggregates = defaultdict(dict)
    contexts = []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        contexts.append(data.get("context", {}))
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                continue
            name = base_name(b)
            if cpu_time and single_threaded(name) and b.get("cpu_time", 0) > 0:
                b = dict(b)
                scale = b["real_time"] / b["cpu_time"]
                for key in ("GMACs", "weight_GBps", "GBps"):
                    if key in b:
                        b[key] *= scale
                b["real_time"] = b["cpu_time"]
            if b.get("run_type") == "aggregate":
                aggregates[name][b.get("aggregate_name", "")] = b
            else:
                iterations[name].append(b)

    def time_us(b):
        return b["real_time"] * TIME_TO_US.get(b.get("time_unit", "ns"), 1e-3)

    runs = {}
    for name in set(iterations) | set(aggregates):
        agg = aggregates.get(name, {})
        if iterations[name]:
            picked = iterations[name]
        else:
            picked = [agg.get("median") or agg.get("mean") or next(iter(agg.values()))]
        if best:
            picked = [min(picked, key=time_us)]
        counters = {}
        for key in ("GMACs", "weight_GBps", "GBps"):
            vals = [b[key] for b in picked if key in b]
            if vals:
                counters[key] = statistics.median(vals)
        runs[name] = {
            "time_us": statistics.median(time_us(b) for b in picked),
            "counters": counters,
            "label": picked[0].get("label", ""),
        }
    return runs, contexts


def parse(runs):
    products = defaultdict(dict)  # (kind, n, k, tokens, threads) -> impl -> run
    stream = defaultdict(dict)  # threads -> bytes -> GBps
    peak = defaultdict(dict)  # threads -> instr -> GMACs
    for name, run in runs.items():
        for kind, rx in NAME_RE.items():
            m = rx.match(name)
            if not m:
                continue
            t = int(m.group("t"))
            if kind == "stream_read":
                if "GBps" in run["counters"]:
                    stream[t][int(m.group("bytes"))] = run["counters"]["GBps"]
            elif kind == "peak_int8":
                if "GMACs" in run["counters"]:
                    peak[t][m.group("instr")] = run["counters"]["GMACs"]
            else:
                tokens = int(m.group("m")) if kind == "gemm" else 1
                key = (kind, int(m.group("n")), int(m.group("k")), tokens, t)
                products[key][m.group("impl")] = run
            break
    return products, stream, peak


class Machine:
    """Bandwidth and peak references, per thread count."""

    def __init__(self, stream, peak):
        self.stream = stream
        self.peak = peak

    # What t threads can do is at least what fewer threads did (t cores: t times one core's peak),
    # so each reference is the best of the direct measurement and those bounds. On a loaded
    # machine the 2-thread measurements come out low, and the target must not shrink with them.
    def measured_bandwidth(self, threads):
        # The largest buffer is the DRAM number; smaller ones may be served by the caches.
        sizes = self.stream.get(threads)
        return sizes[max(sizes)] if sizes else None

    def bandwidth(self, threads):
        vals = [self.measured_bandwidth(t) for t in self.stream if t <= threads]
        vals = [v for v in vals if v]
        return max(vals) if vals else None

    def measured_peak(self, threads):
        return max(self.peak[threads].values()) if self.peak.get(threads) else None

    def peak_gmacs(self, threads):
        vals = [self.measured_peak(threads)]
        if self.measured_peak(1):
            vals.append(threads * self.measured_peak(1))
        vals = [v for v in vals if v]
        return max(vals) if vals else None

    def isa_peak(self, impl, threads):
        """Best peak_int8 of the ISA a bitlin_<isa>[_<variant>] row runs (None if unmeasured):
        the limit a kernel written for that ISA's multiply instruction faces."""
        if not impl.startswith("bitlin_") or not self.peak.get(threads):
            return None
        rest = impl[len("bitlin_"):]

        def isa_of(instr):
            # <isa>_<instruction>[_<variant>]; the AVX-VNNI row is spelled avxvnni there.
            prefix = re.split(r"_(?:vp|tdp)", instr)[0]
            return "avx_vnni" if prefix == "avxvnni" else prefix

        vals = [
            v
            for instr, v in self.peak[threads].items()
            if rest == isa_of(instr) or rest.startswith(isa_of(instr) + "_")
        ]
        return max(vals) if vals else None

    def peak_instr(self, threads):
        if self.peak.get(threads):
            return max(self.peak[threads], key=self.peak[threads].get)
        return None


def fmt_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} us"


def fmt_num(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def fmt_pct(x):
    return "-" if x is None else f"{100 * x:.0f}%"


IMPL_ORDER = ["ref", "eigen_f32"] + [
    "bitlin_" + isa
    for isa in ("scalar", "sse41", "avx2", "avx_vnni", "avx512bw", "avx512vnni", "avx512icl",
                "avx512amx", "neon", "neon_dotprod")
]


def impl_sort_key(impl):
    # The baselines first, then bitlin's ISAs from scalar to the best (bitlin's own order).
    return (IMPL_ORDER.index(impl) if impl in IMPL_ORDER else len(IMPL_ORDER), impl)


def best_bitlin(impls):
    # Binary x binary rows (bitlin_<isa>_xnor) compute a different product (1-bit activations):
    # they are shown, but the headline ratio is the int8-activation kernels'.
    cands = [(run["time_us"], impl) for impl, run in impls.items()
             if impl.startswith("bitlin_") and not impl.endswith("_xnor")]
    if not cands:
        return None
    return min(cands)[1]


def group_title(key):
    kind, n, k, tokens, threads = key
    shape = f"{n}x{k}"
    if kind == "gemm":
        return f"gemm {shape}, tokens {tokens}, threads {threads}"
    return f"{kind} {shape}, threads {threads}"


def sorted_keys(products):
    return sorted(products, key=lambda k: (KIND_ORDER.get(k[0], 9), k[1], k[2], k[3], k[4]))


def machine_section(machine, out):
    out.append("## Machine references (measured in the same run as the products)")
    out.append("")
    out.append("| benchmark | threads | value |")
    out.append("|---|---:|---:|")
    for t in sorted(machine.stream):
        for size in sorted(machine.stream[t]):
            out.append(
                f"| stream_read {size >> 20} MiB | {t} | {machine.stream[t][size]:.1f} GB/s |"
            )
    for t in sorted(machine.peak):
        for instr, v in sorted(machine.peak[t].items(), key=lambda kv: -kv[1]):
            out.append(f"| peak_int8 {instr} | {t} | {v:.0f} G MAC/s |")
    out.append("")


def ratio(base_run, run):
    if base_run is None or run is None:
        return None
    return base_run["time_us"] / run["time_us"]


def group_tables(products, machine, out):
    out.append("## Per shape, token count and thread count")
    out.append("")
    for key in sorted_keys(products):
        impls = products[key]
        kind, _, _, _, threads = key
        bw = machine.bandwidth(threads)
        pk = machine.peak_gmacs(threads)
        out.append(f"### {group_title(key)}")
        out.append("")
        out.append(
            "| impl | time | G MAC/s | weight GB/s | vs eigen_f32 | vs ref | of stream BW "
            "| of int8 peak | of its ISA's peak |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        best = best_bitlin(impls)
        for impl in sorted(impls, key=impl_sort_key):
            run = impls[impl]
            c = run["counters"]
            gmacs, wgbps = c.get("GMACs"), c.get("weight_GBps")
            name = f"**{impl}**" if impl == best else impl
            ipk = machine.isa_peak(impl, threads)
            out.append(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    name,
                    fmt_time(run["time_us"]),
                    fmt_num(gmacs),
                    fmt_num(wgbps),
                    fmt_ratio(ratio(impls.get("eigen_f32"), run)),
                    fmt_ratio(ratio(impls.get("ref"), run)),
                    fmt_pct(wgbps / bw) if (bw and wgbps is not None and kind != "gemm") else "-",
                    fmt_pct(gmacs / pk) if (pk and gmacs is not None) else "-",
                    fmt_pct(gmacs / ipk) if (ipk and gmacs is not None) else "-",
                )
            )
        out.append("")


def overview_table(products, machine, out):
    out.append("## Overview: fastest bitlin path per case")
    out.append("")
    out.append(
        "| case | shape | tokens | threads | best bitlin | time | G MAC/s | weight GB/s "
        "| eigen_f32 G MAC/s | vs eigen_f32 | vs ref | of stream BW | of int8 peak |"
    )
    out.append("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in sorted_keys(products):
        impls = products[key]
        kind, n, k, tokens, threads = key
        best = best_bitlin(impls)
        if best is None:
            continue
        run = impls[best]
        c = run["counters"]
        eig = impls.get("eigen_f32")
        bw = machine.bandwidth(threads)
        pk = machine.peak_gmacs(threads)
        out.append(
            "| {} | {}x{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                kind,
                n,
                k,
                tokens,
                threads,
                best[len("bitlin_"):],
                fmt_time(run["time_us"]),
                fmt_num(c.get("GMACs")),
                fmt_num(c.get("weight_GBps")),
                fmt_num(eig["counters"].get("GMACs")) if eig else "-",
                fmt_ratio(ratio(eig, run)),
                fmt_ratio(ratio(impls.get("ref"), run)),
                fmt_pct(c["weight_GBps"] / bw) if (bw and kind != "gemm") else "-",
                fmt_pct(c["GMACs"] / pk) if pk else "-",
            )
        )
    out.append("")


def target_checks(products, machine):
    """Rows of (target, case, value, goal, unit, passed, margin)."""
    rows = []
    peak1 = machine.peak_gmacs(1)

    def add(target, key, best, value, goal, unit):
        kind, n, k, tokens, threads = key
        case = f"{kind} {n}x{k} t{tokens} thr{threads} ({best[len('bitlin_'):]})"
        rows.append((target, case, value, goal, unit, value >= goal, value / goal - 1.0))

    for key in sorted_keys(products):
        impls = products[key]
        kind, n, k, tokens, threads = key
        best = best_bitlin(impls)
        if best is None:
            continue
        run = impls[best]
        c = run["counters"]
        eig = impls.get("eigen_f32")
        if kind == "gemm" and tokens >= 128 and (n, k) in BITNET_2B_SHAPES and peak1:
            add(
                "GEMM >=128 tokens: per core >= 60% of 1-core int8 peak",
                key,
                best,
                c["GMACs"] / threads,
                TARGET_GEMM_PEAK_PER_CORE * peak1,
                "G MAC/s/core",
            )
            add(
                "GEMM >=128 tokens: per core >= 270 G MAC/s (issue's number)",
                key,
                best,
                c["GMACs"] / threads,
                TARGET_GEMM_ABS_PER_CORE,
                "G MAC/s/core",
            )
        if kind == "gemv_cold" and machine.bandwidth(threads):
            add(
                "cold GEMV >= 85% of stream bandwidth",
                key,
                best,
                c["weight_GBps"],
                TARGET_COLD_BW * machine.bandwidth(threads),
                "GB/s",
            )
        if kind == "gemv" and machine.peak_gmacs(threads):
            add(
                "hot GEMV >= 35% of int8 peak",
                key,
                best,
                c["GMACs"],
                TARGET_HOT_PEAK * machine.peak_gmacs(threads),
                "G MAC/s",
            )
        if kind in ("gemv", "gemv_cold") and eig:
            add(
                f"{kind.replace('_', ' ')} >= 20x eigen_f32",
                key,
                best,
                ratio(eig, run),
                TARGET_GEMV_VS_EIGEN,
                "x",
            )
        if kind == "gemm" and eig:
            add("GEMM >= 3.5x eigen_f32", key, best, ratio(eig, run), TARGET_GEMM_VS_EIGEN, "x")
    return rows


def targets_section(products, machine, out):
    rows = target_checks(products, machine)
    out.append("## Targets (kernel benchmarks)")
    out.append("")
    if not rows:
        out.append("No bitlin results (or no machine references) in the input.")
        out.append("")
        return rows
    peak1 = machine.peak_gmacs(1)
    refs = []
    if peak1:
        refs.append(f"1-core int8 peak {peak1:.0f} G MAC/s ({machine.peak_instr(1)})")
    threads_seen = sorted({k[4] for k in products} | set(machine.stream) | set(machine.peak))
    for t in threads_seen:
        if t > 1 and machine.peak_gmacs(t):
            refs.append(f"{t}-thread int8 peak {machine.peak_gmacs(t):.0f} G MAC/s")
        if machine.bandwidth(t):
            refs.append(f"stream BW {machine.bandwidth(t):.1f} GB/s at {t} thread(s)")
    if refs:
        out.append(
            "References: " + "; ".join(refs) + ". (A t-thread reference is never below t x the"
            " 1-core peak or below the bandwidth fewer threads measured.)"
        )
        out.append("")
    out.append("| target | case | value | goal | result | margin |")
    out.append("|---|---|---:|---:|---|---:|")
    for target, case, value, goal, unit, passed, margin in rows:
        out.append(
            f"| {target} | {case} | {fmt_num(value)} {unit} | {fmt_num(goal)} {unit} "
            f"| {'PASS' if passed else 'MISS'} | {100 * margin:+.0f}% |"
        )
    out.append("")
    out.append("| target | PASS | MISS | worst margin |")
    out.append("|---|---:|---:|---:|")
    by_target = defaultdict(list)
    for r in rows:
        by_target[r[0]].append(r)
    for target, rs in by_target.items():
        passed = sum(1 for r in rs if r[5])
        worst = min(r[6] for r in rs)
        out.append(f"| {target} | {passed} | {len(rs) - passed} | {100 * worst:+.0f}% |")
    out.append("")
    return rows


def write_png(products, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib not available: {path} not written", file=sys.stderr)
        return False
    panels = sorted(
        {(k[0], k[3], k[4]) for k in products},
        key=lambda p: (KIND_ORDER.get(p[0], 9), p[1], p[2]),
    )
    if not panels:
        return False
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    # One color per implementation across all panels.
    all_impls = sorted({i for k in products for i in products[k]}, key=impl_sort_key)
    cmap = plt.get_cmap("tab10")
    color = {impl: cmap(j % 10) for j, impl in enumerate(all_impls)}
    for ax, (kind, tokens, threads) in zip(axes.flat, panels):
        keys = sorted(k for k in products if (k[0], k[3], k[4]) == (kind, tokens, threads))
        shapes = [f"{k[1]}x{k[2]}" for k in keys]
        impls = sorted({i for k in keys for i in products[k]}, key=impl_sort_key)
        width = 0.8 / max(len(impls), 1)
        for j, impl in enumerate(impls):
            xs, ys = [], []
            for i, k in enumerate(keys):
                run = products[k].get(impl)
                if run and run["counters"].get("GMACs"):
                    xs.append(i + (j - (len(impls) - 1) / 2) * width)
                    ys.append(run["counters"]["GMACs"])
            ax.bar(xs, ys, width=width, label=impl, color=color[impl])
        ax.set_yscale("log")
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels(shapes, rotation=30, fontsize=7)
        title = f"{kind}, threads {threads}" if kind != "gemm" else f"gemm {tokens} tokens, threads {threads}"
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("G MAC/s", fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(color=color[i], label=i) for i in all_impls]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def gemv_threads_section(runs, out):
    """Issue 8 item 4: GEMV on 2 threads must not be slower than on 1, for any shape."""
    cells = defaultdict(dict)  # (n, k) -> column -> run
    for name, run in runs.items():
        m = GEMV_THREADS_RE.match(name)
        if not m:
            continue
        split = m.group("impl").endswith("_split_all")
        col = "split" if split else f"t{m.group('t')}"
        cells[(int(m.group("n")), int(m.group("k")))][col] = run
    if not cells:
        return
    out.append("## GEMV on 1 vs 2 threads (2 threads must never be slower)")
    out.append("")
    out.append(
        "Products below the library's per-chunk work threshold (`bitlin::min_chunk_macs()`) stay on"
        " the calling thread; the last column splits every product, as before the threshold."
    )
    out.append("")
    out.append("| shape | M MACs | 1 thread | 2 threads | 2 / 1 | result | 2 threads, all split | all split / 1 |")
    out.append("|---|---:|---:|---:|---:|---|---:|---:|")
    for (n, k), c in sorted(cells.items(), key=lambda kv: kv[0][0] * kv[0][1]):
        t1, t2, sp = c.get("t1"), c.get("t2"), c.get("split")
        r = t2["time_us"] / t1["time_us"] if (t1 and t2) else None
        rs = sp["time_us"] / t1["time_us"] if (t1 and sp) else None
        out.append(
            "| {}x{} | {:.2f} | {} | {} | {} | {} | {} | {} |".format(
                n,
                k,
                n * k / 1e6,
                fmt_time(t1["time_us"]) if t1 else "-",
                fmt_time(t2["time_us"]) if t2 else "-",
                "-" if r is None else f"{r:.2f}",
                "-" if r is None else ("PASS" if r <= 1.0 else "MISS"),
                fmt_time(sp["time_us"]) if sp else "-",
                "-" if rs is None else f"{rs:.2f}",
            )
        )
    out.append("")


def peers_section(products, out, this_cpu=None):
    rows = []
    for kind, peer_us in (("gemv", PEER_GEMV_HOT_US), ("gemv_cold", PEER_GEMV_COLD_US)):
        for threads in (1, 2):
            impls = products.get((kind, 2560, 6912, 1, threads))
            best = best_bitlin(impls) if impls else None
            if best:
                us = impls[best]["time_us"]
                rows.append(
                    f"| {kind} 2560x6912, threads {threads} | {fmt_time(us)} ({best[7:]}) "
                    f"| {fmt_time(peer_us)} | {peer_us / us:.2f}x |"
                )
    for (kind, n, k, tokens, threads), impls in sorted(products.items()):
        if kind == "gemm" and tokens == 512 and threads == 2 and (n, k) in BITNET_2B_SHAPES:
            best = best_bitlin(impls)
            if best:
                g = impls[best]["counters"].get("GMACs", 0.0)
                rows.append(
                    f"| gemm {n}x{k}, 512 tokens, threads 2 | {fmt_num(g)} G MAC/s ({best[7:]}) "
                    f"| {PEER_GEMM_512_GMACS_2CORES:.0f} G MAC/s | {g / PEER_GEMM_512_GMACS_2CORES:.2f}x |"
                )
    if not rows:
        return
    out.append("## Against peers measured on another machine (AMD Zen 5, 2026-11-22: llama.cpp TQ2_0, bitnet.cpp I2_S)")
    out.append("")
    out.append(
        f"The peer column was not measured in this run (this run: {this_cpu or 'CPU not recorded'});"
        " the ratios compare different machines and are only a scale."
    )
    out.append("")
    out.append("| case | bitlin (this run) | peer (Zen 5, 2026-11-22) | ratio (different machines) |")
    out.append("|---|---:|---:|---:|")
    out.extend(rows)
    out.append("")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+", help="Google Benchmark JSON output file(s) of bitlin_bench")
    ap.add_argument("--png", help="write a bar chart (G MAC/s per impl per shape) to this file")
    ap.add_argument(
        "--best",
        action="store_true",
        help="for benchmarks present several times, show the fastest run instead of the median",
    )
    ap.add_argument(
        "--time",
        choices=("real", "cpu"),
        default="real",
        help="cpu: report 1-thread benchmarks by CPU time (estimate for a loaded machine)",
    )
    ap.add_argument(
        "--compact", action="store_true", help="omit the per-case tables (overview and targets only)"
    )
    args = ap.parse_args(argv)

    runs, contexts = load_runs(args.json, best=args.best, cpu_time=args.time == "cpu")
    products, stream, peak = parse(runs)
    machine = Machine(stream, peak)
    out = ["# bitlin_bench results", ""]
    worst_load = 0.0
    for path, context in zip(args.json, contexts):
        line = "{}: host {}, {} CPUs, {}".format(
            path.rsplit("/", 1)[-1],
            context.get("host_name", "?"),
            context.get("num_cpus", "?"),
            context.get("date", "?"),
        )
        load = context.get("load_avg")
        if load:
            line += ", load average at start " + ", ".join(f"{x:.2f}" for x in load)
            worst_load = max(worst_load, load[0])
        if "cold_set_MiB" in context:
            line += f", cold set {context['cold_set_MiB']} MiB"
        # What the machine is (bitlin_bench's describe_machine); older JSON files lack it.
        line += f", CPU {context.get('cpu_model', 'not recorded')}"
        if "isa" in context:
            line += f", library's kernels {context['isa']} (supported: {context.get('isas_supported', '?')})"
        out.append(line + ".")
        out.append("")
    if len(args.json) > 1 or args.best:
        how = "fastest" if args.best else "median"
        out.append(f"Benchmarks present more than once: the {how} run is shown.")
        out.append("")
    if args.time == "cpu":
        out.append(
            "**Times of 1-thread benchmarks are CPU times of their thread (--time cpu), not wall"
            " times; 2-thread ones are wall times.**"
        )
        out.append("")
    if worst_load > 1.0:
        out.append(
            f"**Warning: load average {worst_load:.2f} when a run started (2-core machine shared"
            " with builds): timings, the 2-thread ones most, are unreliable.**"
        )
        out.append("")
    machine_section(machine, out)
    if not args.compact:
        group_tables(products, machine, out)
    overview_table(products, machine, out)
    targets_section(products, machine, out)
    gemv_threads_section(runs, out)
    cpus = sorted({c.get("cpu_model") for c in contexts if c.get("cpu_model")})
    peers_section(products, out, "; ".join(cpus) if cpus else None)
    try:
        print("\n".join(out))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
    if args.png:
        if write_png(products, args.png):
            print(f"plot written to {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
