#!/usr/bin/python3
"""hpt's model throughput beside PyTorch's: Markdown tables and a log-log plot.

    /usr/bin/python3 benchmarks/compare_throughput.py \
        --hpt-json hpt_1.json hpt_2.json --pytorch-json pytorch_1.json pytorch_2.json \
        [--reference-json pytorch_reference_1.json] [--plot docs/img/throughput.png]

Inputs are the JSON of benchmarks/model_throughput.cpp (Google Benchmark's --benchmark_out; the
thread count is its context's eigen_threads) and of benchmarks/pytorch_throughput.py (its
"threads"), any number of files each: the repetitions of all files of one thread count are pooled,
so that each model can be measured in its own process, interleaved with PyTorch's, in several
rounds. Prints one table per (model, mode, threads): minibatch size, samples per second of both,
their ratio, GFLOP/s of both and each as a fraction of its own large-GEMM GFLOP/s measured in the
same run (Eigen's for hpt, torch.mm's for PyTorch). Each figure is the best repetition
(--statistic best, the default: the least disturbed on a shared machine, as timeit's minimum) or
the median repetition (--statistic median); a GEMM peak is always the best repetition of the best
size.

A value marked * was measured while the process did not have a core to itself: for one thread,
the chosen repetition's CPU time was below 90 % of its wall time (the machine is shared).

PyTorch's OpenBLAS kernel (pytorch_throughput.py's "openblas" record) is named in every table's
header and the plot's title. A --pytorch-json file whose kernel was not checked against the CPU,
does not match it, or differs from another file's is refused: exit status 1, no table printed
(a comparison against a mismatched kernel flatters hpt). --reference-json files are not checked.

The plot (matplotlib, Agg): samples/s against minibatch size, log-log, hpt solid and PyTorch
dashed, training and inference in each panel, one panel per model; the 1-thread figure is written
to --plot and every other thread count T to the same name with _{T}threads appended.
"""

import argparse
import json
import pathlib
import statistics
import sys

MODELS = ["mlp", "lstm", "gru"]
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
MODES = ["train", "infer"]
TITLES = {"mlp": "MLP 784-256-256-10", "lstm": "LSTM 32->128, 32 steps, head 10",
          "gru": "GRU 32->128, 32 steps, head 10"}
MODE_NAMES = {"train": "training", "infer": "inference"}
BUSY = 0.9  # CPU time / wall time below this (one thread): the process waited for a core


def load(path):
    return json.loads(pathlib.Path(path).read_text())


def hpt_results(report):
    """(threads, {(model, mode, batch): [sample]}, {n: [GFLOP/s]}) from a Google Benchmark report,
    one sample per repetition (the median aggregate if the file has only aggregates)."""
    threads = int(report["context"].get("eigen_threads", 1))
    entries = [e for e in report["benchmarks"] if not e.get("error_occurred")]
    has_runs = {e["run_name"] for e in entries if e.get("run_type") != "aggregate"}
    rows, gemm = {}, {}
    for entry in entries:
        if entry.get("run_type") == "aggregate":
            if entry["run_name"] in has_runs or entry.get("aggregate_name") != "median":
                continue
        parts = entry["run_name"].split("/")
        arguments = dict(part.split(":", 1) for part in parts[1:] if ":" in part)
        if parts[0] == "gemm":
            gemm.setdefault(int(arguments["n"]), []).append(entry["GFLOPS"])
            continue
        model, mode = parts[0].split("_")
        # Real and CPU time are in the same unit, so their ratio needs no conversion.
        rows.setdefault((model, mode, int(arguments["batch"])), []).append(
            {"samples_per_second": entry["items_per_second"], "gflops": entry["GFLOPS"],
             "cpu_over_wall": entry["cpu_time"] / entry["real_time"]})
    return threads, rows, gemm


def pytorch_results(report):
    """The same from a pytorch_throughput.py report."""
    rows = {}
    for entry in report["results"]:
        walls = entry.get("seconds_per_step_all", [entry["seconds_per_step"]])
        cpus = entry.get("cpu_seconds_per_step_all", [entry["cpu_seconds_per_step"]] * len(walls))
        samples = rows.setdefault((entry["model"], entry["mode"], entry["batch"]), [])
        for wall, cpu in zip(walls, cpus):
            samples.append({"samples_per_second": entry["batch"] / wall,
                            "gflops": entry["batch"] * entry["flop_per_sample"] / wall / 1e9,
                            "cpu_over_wall": cpu / wall})
    gemm = {}
    for entry in report.get("gemm_sizes", []):
        gemm.setdefault(entry["n"], []).extend(
            2 * entry["n"] ** 3 / wall / 1e9 for wall in entry["seconds_per_step_all"])
    return report["threads"], rows, gemm


def merge(into, threads, rows, gemm, context):
    """Adds one file's samples to {threads: (rows, gemm, context of the first file)}."""
    if threads not in into:
        into[threads] = ({}, {}, context)
    known_rows, known_gemm, _ = into[threads]
    for key, samples in rows.items():
        known_rows.setdefault(key, []).extend(samples)
    for n, values in gemm.items():
        known_gemm.setdefault(n, []).extend(values)


def summarise(into, statistic):
    """Replaces every list of samples by one row: the best (highest throughput) or the median."""
    for threads, (rows, gemm, context) in into.items():
        for key, samples in rows.items():
            ordered = sorted(samples, key=lambda sample: sample["samples_per_second"])
            rows[key] = ordered[-1] if statistic == "best" else ordered[(len(ordered) - 1) // 2]
            rows[key] = {**rows[key], "count": len(samples)}
        for n, values in gemm.items():
            gemm[n] = max(values)  # a peak: always the best


def blas_name(report):
    """The BLAS library file that PyTorch loaded (without LAPACK), e.g. libopenblasp-r0.3.21.so."""
    libraries = [path for path in report.get("blas_library", "").split(", ") if "lapack" not in path]
    return pathlib.Path(libraries[-1]).name if libraries else "?"


def openblas_kernel(report, path):
    """The OpenBLAS kernel a pytorch_throughput.py report ran on; exits (refuses the comparison)
    unless that kernel was checked in the benchmark process and is one accepted for the CPU."""
    openblas = report.get("openblas") or {}
    core = openblas.get("core")
    accepted = [name.lower() for name in openblas.get("accepted") or []]
    if openblas.get("check") != "matched" or not core or core.lower() not in accepted:
        sys.exit(f"refused: {path}: PyTorch ran on the OpenBLAS kernel {core or 'unknown'}, "
                 f"check {openblas.get('check', 'not recorded')!r}, accepted for the CPU: "
                 f"{' '.join(openblas.get('accepted') or []) or 'unknown'}. Measure again with "
                 "benchmarks/run_throughput.sh, which forces the kernel that matches the CPU.")
    return core


def number(value, digits=1):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def busy_mark(row, threads):
    return "*" if threads == 1 and row["cpu_over_wall"] < BUSY else ""


def table(model, mode, threads, hpt, torch, reference, hpt_gemm, torch_gemm, kernel):
    header = ["minibatch", "hpt samples/s", "PyTorch samples/s", "hpt / PyTorch",
              "hpt GFLOP/s", "hpt / Eigen GEMM peak", "PyTorch GFLOP/s",
              "PyTorch / its GEMM peak"]
    if reference:
        header.append("PyTorch, reference BLAS, samples/s")
    lines = [f"**{TITLES[model]}, {MODE_NAMES[mode]}, {threads} thread"
             f"{'s' if threads > 1 else ''}; PyTorch on OpenBLAS, {kernel} kernel**", "",
             "| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    ratios = []
    batches = sorted(b for (m, o, b) in hpt if (m, o) == (model, mode))
    for batch in batches:
        ours = hpt[(model, mode, batch)]
        theirs = torch.get((model, mode, batch))
        cells = [str(batch), number(ours["samples_per_second"]) + busy_mark(ours, threads)]
        if theirs:
            ratio = ours["samples_per_second"] / theirs["samples_per_second"]
            ratios.append(ratio)
            cells += [number(theirs["samples_per_second"]) + busy_mark(theirs, threads),
                      f"{ratio:.2f}"]
        else:
            cells += ["-", "-"]
        cells += [number(ours["gflops"], 2),
                  f"{ours['gflops'] / hpt_gemm:.0%}" if hpt_gemm else "-"]
        if theirs:
            cells += [number(theirs["gflops"], 2),
                      f"{theirs['gflops'] / torch_gemm:.0%}" if torch_gemm else "-"]
        else:
            cells += ["-", "-"]
        if reference:
            slow = reference.get((model, mode, batch))
            cells.append(number(slow["samples_per_second"]) + busy_mark(slow, threads)
                         if slow else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines, ratios


def plot(path, threads, hpt, torch, kernel):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(MODELS), figsize=(15, 4.6), constrained_layout=True)
    colours = {"train": "tab:blue", "infer": "tab:orange"}
    for axis, model in zip(axes, MODELS):
        for mode in MODES:
            for rows, style, who in ((hpt, "-", "hpt"), (torch, "--", "PyTorch")):
                points = sorted((b, r["samples_per_second"]) for (m, o, b), r in rows.items()
                                if (m, o) == (model, mode))
                if not points:
                    continue
                axis.plot([p[0] for p in points], [p[1] for p in points], style, marker="o",
                          markersize=3, color=colours[mode], label=f"{who} {MODE_NAMES[mode]}")
        axis.set_xscale("log", base=2)
        axis.set_xticks(BATCHES, [str(b) for b in BATCHES])
        axis.set_yscale("log")
        axis.set_title(TITLES[model])
        axis.set_xlabel("minibatch size")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("samples / s (wall clock)")
    axes[0].legend(fontsize=8)
    figure.suptitle(f"hpt (Eigen, solid) vs PyTorch (OpenBLAS {kernel} kernel, dashed), float32, "
                    f"CPU, {threads} thread{'s' if threads > 1 else ''}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hpt-json", nargs="+", required=True)
    parser.add_argument("--pytorch-json", nargs="+", required=True)
    parser.add_argument("--reference-json", nargs="*", default=[],
                        help="pytorch_throughput.py runs on another BLAS, shown as a last column")
    parser.add_argument("--statistic", choices=["best", "median"], default="best",
                        help="per row, over all repetitions of all files: the best (highest "
                        "throughput, the least disturbed on a shared machine) or the median")
    parser.add_argument("--plot", help="PNG of the 1-thread figure (others get _{T}threads)")
    parser.add_argument("--markdown", help="also write the tables to this file")
    arguments = parser.parse_args()

    hpt = {}
    for path in arguments.hpt_json:
        report = load(path)
        merge(hpt, *hpt_results(report), report["context"])
    torch = {}
    kernels = {}
    for path in arguments.pytorch_json:
        report = load(path)
        kernels.setdefault(openblas_kernel(report, path), []).append(path)
        merge(torch, *pytorch_results(report), report)
    if len(kernels) > 1:
        sys.exit("refused: the PyTorch results ran on different OpenBLAS kernels: " +
                 "; ".join(f"{core} ({', '.join(paths)})" for core, paths in kernels.items()))
    kernel = next(iter(kernels))
    slow = {}
    for path in arguments.reference_json:
        report = load(path)
        merge(slow, *pytorch_results(report), report)
    for results in (hpt, torch, slow):
        summarise(results, arguments.statistic)
    reference = {threads: rows for threads, (rows, _, _) in slow.items()}

    out = []
    out.append("Large GEMM (n x n times n x n, float32), GFLOP/s, best repetition, same run; the "
               "best size of each column is the peak used below:\n")
    out.append("| n | " + " | ".join(f"Eigen (hpt's flags), {t} thread{'s' if t > 1 else ''} | "
                                      f"PyTorch torch.mm (OpenBLAS {kernel}), {t} thread"
                                      f"{'s' if t > 1 else ''}"
                                      for t in sorted(hpt)) + " |")
    out.append("|---:|" + "---:|---:|" * len(hpt))
    sizes = sorted({n for t in hpt for n in hpt[t][1]} | {n for t in torch for n in torch[t][1]})
    for n in sizes:
        cells = []
        for threads in sorted(hpt):
            cells.append(number(hpt[threads][1].get(n), 1))
            cells.append(number(torch.get(threads, ({}, {}, None))[1].get(n), 1))
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    out.append("")
    summary = []
    for threads in sorted(hpt):
        rows, gemm, _ = hpt[threads]
        torch_rows, torch_gemm, _ = torch.get(threads, ({}, {}, None))
        for model in MODELS:
            for mode in MODES:
                lines, ratios = table(model, mode, threads, rows, torch_rows,
                                      reference.get(threads), max(gemm.values(), default=None),
                                      max(torch_gemm.values(), default=None), kernel)
                out += lines + [""]
                if ratios:
                    summary.append((model, mode, threads, min(ratios), statistics.median(ratios),
                                    max(ratios)))
    out.append("hpt / PyTorch samples/s over the minibatch sizes:\n")
    out.append("| model | mode | threads | min | median | max |")
    out.append("|---|---|---:|---:|---:|---:|")
    for model, mode, threads, low, middle, high in summary:
        out.append(f"| {model} | {MODE_NAMES[mode]} | {threads} | {low:.2f} | {middle:.2f} | "
                   f"{high:.2f} |")
    out.append("")
    for threads in sorted(hpt):
        context = hpt[threads][2]
        out.append(f"- hpt, {threads} thread(s): {context.get('compiler', '?')}, Eigen "
                   f"{context.get('eigen_version', '?')} ({context.get('eigen_simd', '?')}), "
                   f"OpenMP {context.get('openmp', '?')}, load average at start "
                   f"{context.get('load_avg', '?')} (first file)")
    for threads in sorted(torch):
        report = torch[threads][2]
        load_start = ", ".join(f"{x:.2f}" for x in report.get("load_avg_start", []))
        load_end = ", ".join(f"{x:.2f}" for x in report.get("load_avg_end", []))
        openblas = report["openblas"]
        out.append(f"- PyTorch {report['torch_version']}, {threads} thread(s), BLAS "
                   f"{blas_name(report)}, kernel {openblas['core']} (OPENBLAS_CORETYPE="
                   f"{openblas.get('coretype_env') or 'unset'}; accepted for this CPU: "
                   f"{' '.join(openblas['accepted'])}); load average {load_start} at start, "
                   f"{load_end} at end (first file)")
    for threads, (_, gemm, report) in sorted(slow.items()):
        core = (report.get("openblas") or {}).get("core")
        out.append(f"- PyTorch on {blas_name(report)} (last column"
                   f"{f', OpenBLAS kernel {core}' if core else ''}), {threads} thread(s): "
                   f"torch.mm peak {number(max(gemm.values(), default=None), 1)} GFLOP/s")
    text = "\n".join(out)
    print(text)
    if arguments.markdown:
        pathlib.Path(arguments.markdown).write_text(text + "\n")

    if arguments.plot:
        base = pathlib.Path(arguments.plot)
        for threads in sorted(hpt):
            path = base if threads == 1 else base.with_name(f"{base.stem}_{threads}threads"
                                                              f"{base.suffix}")
            plot(path, threads, hpt[threads][0], torch.get(threads, ({},))[0], kernel)
            print(f"plot: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
