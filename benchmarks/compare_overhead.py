#!/usr/bin/python3
"""hpt's engine overhead beside Optuna's, per schedule and trial count, in one table.

    /usr/bin/python3 benchmarks/compare_overhead.py [--build] [--repetitions 3]

Runs benchmarks/engine_overhead.cpp (Release build in build-bench, built with --build or when
missing) and benchmarks/optuna_overhead.py in the same session, then prints the side-by-side table
as text and as Markdown (for docs/performance.md). Both sides report CPU time, the median of the
repetitions: on a shared machine wall time mostly measures the other processes. The raw JSON of
both runs is kept in --output.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
STEPS_PER_TRIAL = 27

# hpt benchmark -> (row label, Optuna schedule it is compared with).
ROWS = [
    ("BM_RandomSearch", "random search, 27 steps, no pruning", "random"),
    ("BM_SuccessiveHalving", "successive halving (n = trials, r 1, R 27, eta 3)",
     "successive_halving"),
    ("BM_Asha", "ASHA (r 1, R 27, eta 3) vs Optuna's SuccessiveHalvingPruner",
     "successive_halving"),
    ("BM_Hyperband", "Hyperband (R 27, eta 3), iterations repeated in one study", "hyperband"),
    ("BM_HyperbandSeparateStudies", "Hyperband (R 27, eta 3), one study per iteration",
     "hyperband"),
    ("BM_MedianStopping", "random search + median stopping", "median"),
]


def build(build_directory):
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_directory), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DHPT_BUILD_TESTS=OFF",
                    "-DHPT_BUILD_EXAMPLES=OFF"], check=True)
    subprocess.run(["cmake", "--build", str(build_directory), "--target",
                    "hpt_bench_engine_overhead", "-j2"], check=True)


def run_hpt(binary, repetitions, trials, output):
    counts = "|".join(str(count) for count in trials)
    subprocess.run([str(binary), f"--benchmark_filter=/trials:({counts})$",
                    "--benchmark_format=json", f"--benchmark_out={output}",
                    "--benchmark_out_format=json", f"--benchmark_repetitions={repetitions}",
                    "--benchmark_report_aggregates_only=true"],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(pathlib.Path(output).read_text())


def hpt_medians(report):
    """{(benchmark, trials): counters of the median over repetitions}."""
    medians = {}
    for entry in report["benchmarks"]:
        if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") != "median":
            continue
        name, trials = entry["run_name"].split("/trials:")
        medians[(name, int(trials))] = entry  # a single run when there are no repetitions
    return medians


def run_optuna(arguments, output):
    command = ["/usr/bin/python3", str(ROOT / "benchmarks" / "optuna_overhead.py"),
               "--time-limit", str(arguments.optuna_time_limit),
               "--repetitions", str(arguments.repetitions),
               "--trials", *map(str, arguments.trials)]
    with open(output, "w") as out:
        subprocess.run(command, check=True, stdout=out)
    return json.loads(pathlib.Path(output).read_text())


def optuna_by_schedule(reports):
    table = {}
    for report in reports:
        for entry in report["results"]:
            table[(entry["schedule"], entry["trials"])] = entry
    return table


def blas_text(report):
    """The BLAS of an optuna_overhead.py report (unused by these studies, recorded anyway)."""
    blas = report.get("blas")
    if blas is None:
        return "BLAS not recorded"
    libraries = [pathlib.Path(path).name for path in blas["libraries"] if "lapack" not in path
                 and "scipy" not in path]
    openblas = blas.get("openblas")
    kernel = f", OpenBLAS kernel {openblas['core']}" if openblas else ""
    return (f"BLAS loaded with numpy and scipy: {', '.join(libraries) or 'none'}{kernel} "
            "(kernel-independent: these studies do no matrix products)")


def number(value, digits=1):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="configure and build first")
    parser.add_argument("--build-directory", default=str(ROOT / "build-bench"))
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--trials", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--optuna-time-limit", type=float, default=180.0,
                        help="CPU seconds after which an Optuna study is stopped or skipped")
    parser.add_argument("--optuna-json", nargs="+",
                        help="reuse these optuna_overhead.py outputs instead of running Optuna")
    parser.add_argument("--hpt-json", help="reuse this benchmark output instead of running hpt")
    parser.add_argument("--output", default=str(ROOT / "build-bench" / "overhead"))
    arguments = parser.parse_args()

    output = pathlib.Path(arguments.output)
    output.mkdir(parents=True, exist_ok=True)
    binary = pathlib.Path(arguments.build_directory) / "benchmarks" / "hpt_bench_engine_overhead"
    if not arguments.hpt_json and (arguments.build or not binary.exists()):
        build(arguments.build_directory)

    if arguments.hpt_json:
        hpt_report = json.loads(pathlib.Path(arguments.hpt_json).read_text())
    else:
        print("running hpt's benchmark ...", file=sys.stderr)
        hpt_report = run_hpt(binary, arguments.repetitions, arguments.trials, output / "hpt.json")
    if arguments.optuna_json:
        optuna_reports = [json.loads(pathlib.Path(p).read_text()) for p in arguments.optuna_json]
    else:
        print("running Optuna (minutes) ...", file=sys.stderr)
        optuna_reports = [run_optuna(arguments, output / "optuna.json")]

    hpt = hpt_medians(hpt_report)
    optuna = optuna_by_schedule(optuna_reports)
    alone = {trials: hpt[("BM_TrainableAlone", trials)]["seconds_per_step"] * 1e6
             for (name, trials) in hpt if name == "BM_TrainableAlone"}

    header = ["schedule", "trials", "hpt µs/trial", "hpt net µs/trial", "hpt µs/step",
              "hpt steps/trial", "Optuna µs/trial", "Optuna µs/step", "Optuna steps/trial",
              "Optuna / hpt per trial"]
    rows = []
    for benchmark, label, schedule in ROWS:
        for trials in sorted(arguments.trials):
            entry = hpt.get((benchmark, trials))
            if entry is None:
                continue
            per_trial = entry["seconds_per_trial"] * 1e6
            steps_per_trial = entry["steps"] / entry["trials"]
            net = per_trial - alone.get(trials, 0.0) * steps_per_trial
            theirs = optuna.get((schedule, trials))
            optuna_text, optuna_per_step, optuna_steps, ratio = "-", "-", "-", "-"
            if theirs:
                optuna_text = number(theirs["us_per_trial"], 0)
                if theirs["status"] == "extrapolated":
                    optuna_text += " (extrapolated)"
                elif theirs["status"] == "partial":
                    optuna_text += f" (extrapolated from {theirs['trials_run']:,} trials)"
                if theirs["status"] == "measured":
                    optuna_steps = f"{theirs['steps'] / trials:.1f}"
                    optuna_per_step = number(theirs["us_per_step"], 0)
                ratio = f"{theirs['us_per_trial'] / per_trial:,.0f}x"
            rows.append([label, f"{entry['trials']:,.0f}", number(per_trial, 2), number(net, 2),
                         number(entry["seconds_per_step"] * 1e6, 3), f"{steps_per_trial:.1f}",
                         optuna_text, optuna_per_step, optuna_steps, ratio])

    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))

    print("\nGrowth of hpt's CPU time per trial from the smallest to the largest count "
          "(1.0 = linear total cost):")
    for benchmark, label, _ in ROWS:
        counts = sorted(t for (name, t) in hpt if name == benchmark)
        if len(counts) >= 2:
            low, high = hpt[(benchmark, counts[0])], hpt[(benchmark, counts[-1])]
            print(f"  {label}: {high['seconds_per_trial'] / low['seconds_per_trial']:.2f}x "
                  f"({counts[0]:,} -> {counts[-1]:,} trials)")
    print(f"\nThe trivial trainable alone: {statistics.median(alone.values()) * 1e3:.1f} ns "
          f"per step (subtracted in the net column).")
    context = hpt_report.get("context", {})
    print(f"hpt: {context.get('compiler', '?')}, {context.get('assertions', '?')}, "
          f"load average {context.get('load_avg', '?')} at the start of the run")
    print(f"Optuna {optuna_reports[0]['optuna_version']}, Python "
          f"{optuna_reports[0]['python']}, {optuna_reports[0]['storage']} storage, "
          f"n_jobs {optuna_reports[0].get('n_jobs', 1)}, "
          f"{blas_text(optuna_reports[0])}")

    print("\nMarkdown:\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    combined = {"hpt": hpt_report, "optuna": optuna_reports, "table": [header] + rows}
    (output / "comparison.json").write_text(json.dumps(combined, indent=2))
    print(f"\nraw results: {output}", file=sys.stderr)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
