#!/usr/bin/python3
"""hpt's model throughput beside PyTorch's: Markdown tables and a log-log plot.

    /usr/bin/python3 benchmarks/compare_throughput.py \
        --hpt-json hpt_1.json hpt_2.json --pytorch-json pytorch_1.json pytorch_2.json \
        [--reference-json pytorch_reference_1.json] [--plot docs/img/throughput.png]

Inputs are the JSON of benchmarks/model_throughput.cpp (Google Benchmark, --benchmark_format=json;
the thread count is its context's eigen_threads) and of benchmarks/pytorch_throughput.py (one file
per thread count). Prints one table per (model, mode, threads): minibatch size, samples per second
of both, their ratio, GFLOP/s of both and each as a fraction of its own large-GEMM GFLOP/s
measured in the same run (Eigen's for hpt, torch.mm's for PyTorch).

A value marked * was measured while the process did not have a core to itself: for one thread,
its CPU time was below 90 % of its wall time (the machine is shared). Such rows are noisy.

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
    """(threads, {(model, mode, batch): row}, gemm row) from a Google Benchmark report.

    With repetitions the median aggregate is used; otherwise the single run (the last one if
    several runs of one benchmark are present)."""
    threads = int(report["context"].get("eigen_threads", 1))
    runs = {}
    for entry in report["benchmarks"]:
        if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") != "median":
            continue
        if entry.get("error_occurred"):
            continue
        parts = entry["run_name"].split("/")
        arguments = dict(part.split(":", 1) for part in parts[1:] if ":" in part)
        runs[(parts[0], tuple(sorted(arguments.items())))] = entry
    rows, gemm = {}, None
    for (name, arguments), entry in runs.items():
        arguments = dict(arguments)
        # Real and CPU time are in the same unit, so their ratio needs no conversion.
        row = {"samples_per_second": entry.get("items_per_second"),
               "gflops": entry.get("GFLOPS"),
               "cpu_over_wall": entry["cpu_time"] / entry["real_time"]}
        if name == "gemm":
            gemm = {**row, "n": int(arguments["n"])}
            continue
        model, mode = name.split("_")
        rows[(model, mode, int(arguments["batch"]))] = row
    return threads, rows, gemm


def pytorch_results(report):
    rows = {}
    for entry in report["results"]:
        rows[(entry["model"], entry["mode"], entry["batch"])] = {
            "samples_per_second": entry["samples_per_second"], "gflops": entry["gflops"],
            "cpu_over_wall": entry["cpu_seconds_per_step"] / entry["seconds_per_step"]}
    return report["threads"], rows, report.get("gemm")


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


def table(model, mode, threads, hpt, torch, reference, hpt_gemm, torch_gemm):
    header = ["minibatch", "hpt samples/s", "PyTorch samples/s", "hpt / PyTorch",
              "hpt GFLOP/s", "hpt / Eigen GEMM peak", "PyTorch GFLOP/s",
              "PyTorch / its GEMM peak"]
    if reference:
        header.append("PyTorch, reference BLAS, samples/s")
    lines = [f"**{TITLES[model]}, {MODE_NAMES[mode]}, {threads} thread"
             f"{'s' if threads > 1 else ''}**", "",
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


def plot(path, threads, hpt, torch):
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
    figure.suptitle(f"hpt (Eigen, solid) vs PyTorch (dashed), float32, CPU, {threads} thread"
                    f"{'s' if threads > 1 else ''}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hpt-json", nargs="+", required=True)
    parser.add_argument("--pytorch-json", nargs="+", required=True)
    parser.add_argument("--reference-json", nargs="*", default=[],
                        help="pytorch_throughput.py runs on another BLAS, shown as a last column")
    parser.add_argument("--plot", help="PNG of the 1-thread figure (others get _{T}threads)")
    parser.add_argument("--markdown", help="also write the tables to this file")
    arguments = parser.parse_args()

    hpt = {}
    for path in arguments.hpt_json:
        report = load(path)
        threads, rows, gemm = hpt_results(report)
        hpt[threads] = (rows, gemm, report["context"])
    torch = {}
    for path in arguments.pytorch_json:
        report = load(path)
        threads, rows, gemm = pytorch_results(report)
        torch[threads] = (rows, gemm, report)
    reference = {}
    for path in arguments.reference_json:
        report = load(path)
        threads, rows, _ = pytorch_results(report)
        reference[threads] = rows

    out = []
    out.append("Large GEMM (n x n times n x n, float32), GFLOP/s, same run:\n")
    out.append("| threads | Eigen (hpt's flags) | PyTorch torch.mm |")
    out.append("|---:|---:|---:|")
    for threads in sorted(set(hpt) | set(torch)):
        ours = hpt.get(threads, ({}, None, {}))[1]
        theirs = torch.get(threads, ({}, None, {}))[1]
        out.append(f"| {threads} | {number(ours['gflops'], 1) if ours else '-'} "
                   f"(n = {ours['n'] if ours else '-'}) | "
                   f"{number(theirs['gflops'], 1) if theirs else '-'} "
                   f"(n = {theirs['n'] if theirs else '-'}) |")
    out.append("")
    summary = []
    for threads in sorted(hpt):
        rows, gemm, _ = hpt[threads]
        torch_rows, torch_gemm, _ = torch.get(threads, ({}, None, None))
        for model in MODELS:
            for mode in MODES:
                lines, ratios = table(model, mode, threads, rows, torch_rows,
                                      reference.get(threads), gemm and gemm["gflops"],
                                      torch_gemm and torch_gemm["gflops"])
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
                   f"{context.get('load_avg', '?')}")
    for threads in sorted(torch):
        report = torch[threads][2]
        load_start = ", ".join(f"{x:.2f}" for x in report.get("load_avg_start", []))
        load_end = ", ".join(f"{x:.2f}" for x in report.get("load_avg_end", []))
        out.append(f"- PyTorch {report['torch_version']}, {threads} thread(s), BLAS "
                   f"{report['blas_library']}; load average {load_start} at start, {load_end} "
                   f"at end")
    text = "\n".join(out)
    print(text)
    if arguments.markdown:
        pathlib.Path(arguments.markdown).write_text(text + "\n")

    if arguments.plot:
        base = pathlib.Path(arguments.plot)
        for threads in sorted(hpt):
            path = base if threads == 1 else base.with_name(f"{base.stem}_{threads}threads"
                                                              f"{base.suffix}")
            plot(path, threads, hpt[threads][0], torch.get(threads, ({},))[0])
            print(f"plot: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
