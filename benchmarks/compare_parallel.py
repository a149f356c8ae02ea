#!/usr/bin/python3
"""Speedup and utilisation of hpt's thread pool, from the JSON of hpt_bench_parallel_speedup.

    build/benchmarks/hpt_bench_parallel_speedup --benchmark_repetitions=5 \\
        --benchmark_enable_random_interleaving=true --benchmark_format=json > speedup.json
    /usr/bin/python3 benchmarks/compare_parallel.py speedup.json

Per strategy: the 1- and 2-worker trials per second (and epochs per second, the fair rate when
ASHA's work differs between runs), the speedup (2-worker rate over 1-worker rate, from the medians
of the repetitions, with the range over all pairs of repetitions), the utilisation (sum of the
trials' busy time / (workers x study wall time)), where the idle time went, and the share of the
machine that other processes took meanwhile: on a shared 2-core machine that share, not the
engine, is often what bounds the speedup. --quiet-below X repeats the table with only the
repetitions in which other processes took less than X of the machine.

Optionally, the thread pool's overhead per trial (--overhead, the JSON of
hpt_bench_engine_overhead_parallel: workers = 2 over workers = 1, CPU and real time) and Optuna's
per trial with n_jobs = 1 and 2 (--optuna, outputs of optuna_overhead.py with --n-jobs 1 and 2),
set against hpt's pool. Standard library only.
"""

import argparse
import itertools
import json
import pathlib
import re
import statistics

# Targets of the issue: speedup with 2 workers, and utilisation per strategy.
SPEEDUP_TARGET = 1.8
UTILISATION_TARGETS = {"BM_RandomSearch": 0.95, "BM_Asha": 0.95, "BM_Hyperband": 0.90,
                       "BM_RandomSearchSqlite": 0.95, "BM_AshaSqlite": 0.95,
                       "BM_HyperbandSqlite": 0.90}
# Measured, not targeted: ASHA with MedianStopping, asynchronous and reproducible.
SPEEDUP_BENCHMARKS = ("BM_RandomSearch", "BM_Hyperband", "BM_Asha", "BM_AshaMedian",
                      "BM_AshaMedianLag4", "BM_RandomSearchSqlite", "BM_HyperbandSqlite",
                      "BM_AshaSqlite")
OVERHEAD_TARGET = 3.0  # the pool's overhead per trial over the inline engine's

LABELS = {
    "BM_RandomSearch": "random search",
    "BM_Hyperband": "Hyperband",
    "BM_Asha": "ASHA",
    "BM_AshaMedian": "ASHA + MedianStopping",
    "BM_AshaMedianLag4": "ASHA + MedianStopping, lag 4",
    "BM_SuccessiveHalving": "successive halving",
    "BM_RandomSearchSqlite": "random search, SQLite storage",
    "BM_HyperbandSqlite": "Hyperband, SQLite storage",
    "BM_AshaSqlite": "ASHA, SQLite storage",
}
# Optuna schedule -> hpt benchmarks it is compared with (as in compare_overhead.py).
OPTUNA_ROWS = [("random", "BM_RandomSearch"), ("successive_halving", "BM_SuccessiveHalving"),
               ("successive_halving", "BM_Asha"), ("hyperband", "BM_Hyperband")]


def load_runs(paths):
    """{(benchmark, workers, trials or None): [counters of each repetition]} from Google Benchmark
    JSON files (several files: their repetitions are pooled)."""
    runs, contexts = {}, []
    for source, path in enumerate(paths):
        report = json.loads(pathlib.Path(path).read_text())
        contexts.append(report.get("context", {}))
        entries = report["benchmarks"]
        has_iterations = any(entry.get("run_type") == "iteration" for entry in entries)
        for entry in entries:
            if has_iterations and entry.get("run_type") != "iteration":
                continue
            if not has_iterations and entry.get("aggregate_name", "median") != "median":
                continue  # only aggregates were written: take their median
            name = entry.get("run_name", entry["name"])
            workers = re.search(r"/workers:(\d+)", name)
            trials = re.search(r"/trials:(\d+)", name)
            if not workers:
                continue
            key = (name.split("/")[0], int(workers.group(1)),
                   int(trials.group(1)) if trials else None)
            # Which run of the session: 1- and 2-worker studies of the same round ran minutes
            # apart at most, so they are paired by it (the machine's speed drifts over a session).
            entry["_round"] = (source, entry.get("repetition_index", 0))
            runs.setdefault(key, []).append(entry)
    return runs, contexts


def median(entries, counter):
    return statistics.median(entry[counter] for entry in entries)


def spread(entries, counter):
    values = [entry[counter] for entry in entries]
    return min(values), max(values)


def percent(value):
    return f"{100 * value:.1f}%"


def table(header, rows):
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(header, widths))]
    lines += ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1))
             + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def paired(one, two):
    """(1-worker, 2-worker) entries of the same round."""
    by_round = {entry["_round"]: entry for entry in one}
    return [(by_round[entry["_round"]], entry) for entry in two if entry["_round"] in by_round]


def factors(a, b):
    """The 2-worker over 1-worker trial rate of one round as a product of its causes:
    trials/s = trials x workers x utilisation x (CPU per busy second) / (trainer CPU), so
    speedup = 2 x idle x preemption x trainer speed x work, with
      idle        = utilisation 2w / utilisation 1w,
      preemption  = CPU per busy second 2w / 1w (the trainers' threads off their cores),
      trainer     = trainer CPU per epoch 1w / 2w (an epoch costing more CPU beside another),
      work        = (trials per epoch 2w) / (trials per epoch 1w) (ASHA: the runs differ)."""
    return {
        "speedup": b["trials_per_second"] / a["trials_per_second"],
        "idle": b["utilisation"] / a["utilisation"],
        "preemption": b["cpu_per_busy"] / a["cpu_per_busy"],
        "trainer": (a["trainer_cpu_seconds"] / a["epochs"]) / (b["trainer_cpu_seconds"] / b["epochs"]),
        "work": (b["trials"] / b["epochs"]) / (a["trials"] / a["epochs"]),
    }


def print_factors(runs, quiet_below):
    print("\nSpeedup per round (1- and 2-worker studies of the same run paired), medians, and "
          "its factors:\nspeedup = 2 x idle x preemption x trainer CPU per epoch x work "
          "(see factors() in this script)\n")
    header = ["strategy", "rounds", "paired speedup (range)", "idle", "preemption",
              "trainer CPU/epoch", "work", "2w trainer CPU/epoch ms (range)",
              "1w trainer CPU/epoch ms (range)"]
    rows = []
    for benchmark in SPEEDUP_BENCHMARKS:
        pairs = paired(runs.get((benchmark, 1, None), []), runs.get((benchmark, 2, None), []))
        if quiet_below is not None:
            pairs = [(a, b) for a, b in pairs if max(a.get("foreign_cpu_share", 0),
                                                       b.get("foreign_cpu_share", 0)) < quiet_below]
        if not pairs:
            continue
        all_factors = [factors(a, b) for a, b in pairs]
        med = {k: statistics.median(f[k] for f in all_factors) for k in all_factors[0]}
        speedups = [f["speedup"] for f in all_factors]
        per_epoch = lambda entry: entry["trainer_cpu_seconds"] / entry["epochs"] * 1e3
        two, one = [per_epoch(b) for _, b in pairs], [per_epoch(a) for a, _ in pairs]
        rows.append([LABELS[benchmark], len(pairs),
                     f"{med['speedup']:.2f}x ({min(speedups):.2f}-{max(speedups):.2f})",
                     f"{med['idle']:.3f}", f"{med['preemption']:.3f}", f"{med['trainer']:.3f}",
                     f"{med['work']:.3f}",
                     f"{statistics.median(two):.3f} ({min(two):.3f}-{max(two):.3f})",
                     f"{statistics.median(one):.3f} ({min(one):.3f}-{max(one):.3f})"])
    print(table(header, rows) if rows else "(no paired rounds)")
    return header, rows


def speedup_rows(runs, quiet_below=None):
    rows = []
    for benchmark in SPEEDUP_BENCHMARKS:
        one = runs.get((benchmark, 1, None), [])
        two = runs.get((benchmark, 2, None), [])
        if quiet_below is not None:
            one = [entry for entry in one if entry.get("foreign_cpu_share", 0) < quiet_below]
            two = [entry for entry in two if entry.get("foreign_cpu_share", 0) < quiet_below]
        if not one or not two:
            continue
        rate_one, rate_two = median(one, "trials_per_second"), median(two, "trials_per_second")
        speedup = rate_two / rate_one
        pairs = [b["trials_per_second"] / a["trials_per_second"]
                 for a, b in itertools.product(one, two)]
        epoch_speedup = median(two, "epochs_per_second") / median(one, "epochs_per_second")
        utilisation_one, utilisation_two = median(one, "utilisation"), median(two, "utilisation")
        low, high = spread(two, "utilisation")
        target = UTILISATION_TARGETS.get(benchmark)
        verdict = ("meets" if speedup >= SPEEDUP_TARGET else "misses") + " / " + (
            "-" if target is None else "meets" if utilisation_two >= target else "misses")
        rows.append([
            LABELS[benchmark], f"{len(one)}+{len(two)}",
            f"{rate_one:.1f}", f"{rate_two:.1f}",
            f"{speedup:.2f}x ({min(pairs):.2f}-{max(pairs):.2f})", f"{epoch_speedup:.2f}x",
            percent(utilisation_one), f"{percent(utilisation_two)} ({percent(low)}-{percent(high)})",
            f"{percent(median(two, 'tail_idle_share'))} / {percent(median(two, 'gap_idle_share'))}",
            f"{median(two, 'cpu_per_busy'):.2f}",
            f"{percent(median(one, 'foreign_cpu_share'))} / "
            f"{percent(median(two, 'foreign_cpu_share'))}",
            (f">= {SPEEDUP_TARGET}x, >= {percent(target)}: {verdict}" if target is not None
             else "(measured, no target)"),
        ])
    return rows


SPEEDUP_HEADER = ["strategy", "runs (1w+2w)", "trials/s 1w", "trials/s 2w", "speedup (range)",
                  "epochs/s speedup", "utilisation 1w", "utilisation 2w (range)",
                  "2w idle: tail / gaps", "2w CPU per busy second", "others' CPU 1w / 2w",
                  "targets: speedup / utilisation"]


def print_speedup(runs, contexts, quiet_below):
    rows = speedup_rows(runs)
    print("hpt, MlpTrainer on the digits: 1 vs 2 workers (medians of the repetitions)\n")
    print(table(SPEEDUP_HEADER, rows))
    if quiet_below is not None:
        quiet = speedup_rows(runs, quiet_below)
        print(f"\nOnly repetitions in which other processes used < {percent(quiet_below)} of the "
              "machine:\n")
        print(table(SPEEDUP_HEADER, quiet) if quiet else "(none)")
    factor_table = print_factors(runs, quiet_below)
    print("\nPer study (medians): trials, epochs, wall s, trainer CPU s, process threads")
    for (benchmark, workers, _), entries in sorted(runs.items()):
        print(f"  {LABELS.get(benchmark, benchmark)}, {workers} worker(s): "
              f"{median(entries, 'trials'):.0f} trials, {median(entries, 'epochs'):.0f} epochs, "
              f"{median(entries, 'study_seconds'):.2f} s, "
              f"{median(entries, 'trainer_cpu_seconds'):.2f} s CPU in trainers, "
              f"{max(entry['process_threads'] for entry in entries):.0f} threads")
    for context in contexts[:1]:
        print(f"\n{context.get('compiler', '?')}, {context.get('assertions', '?')}, Eigen threads "
              f"{context.get('eigen_threads', '?')}, OpenMP {context.get('openmp', '?')}, "
              f"load average at start {context.get('load_avg', '?')}")
    print("\nMarkdown:\n")
    print(markdown(SPEEDUP_HEADER, rows))
    if factor_table[1]:
        print()
        print(markdown(*factor_table))


def print_overhead(runs):
    header = ["schedule", "trials", "inline CPU µs/trial", "pool CPU µs/trial", "CPU ratio",
              "inline real µs/trial", "pool real µs/trial", "real ratio", "pool jobs/trial",
              "pool switches/job", "others' CPU", "target <= 3x (CPU)"]
    rows = []
    for benchmark in ("BM_RandomSearch", "BM_SuccessiveHalving", "BM_Hyperband", "BM_Asha"):
        for trials in sorted({key[2] for key in runs if key[0] == benchmark}):
            one, two = runs.get((benchmark, 1, trials)), runs.get((benchmark, 2, trials))
            if not one or not two:
                continue
            cpu_one = median(one, "cpu_seconds_per_trial") * 1e6
            cpu_two = median(two, "cpu_seconds_per_trial") * 1e6
            real_one = median(one, "seconds_per_trial") * 1e6
            real_two = median(two, "seconds_per_trial") * 1e6
            foreign = max(median(one, "foreign_cpu_share"), median(two, "foreign_cpu_share"))
            rows.append([LABELS[benchmark], f"{median(two, 'trials'):,.0f}", f"{cpu_one:.2f}",
                         f"{cpu_two:.2f}", f"{cpu_two / cpu_one:.2f}x", f"{real_one:.2f}",
                         f"{real_two:.2f}", f"{real_two / real_one:.2f}x",
                         f"{median(two, 'jobs') / median(two, 'trials'):.2f}",
                         f"{median(two, 'context_switches_per_job'):.2f}", percent(foreign),
                         "meets" if cpu_two / cpu_one <= OVERHEAD_TARGET else "misses"])
    print("\nEngine overhead per trial, trivial trainable: inline (1 worker) vs pool (2 workers), "
          "medians\n")
    print(table(header, rows))
    print("\nMarkdown:\n")
    print(markdown(header, rows))


def print_optuna(runs, optuna_paths):
    by_jobs = {}
    for path in optuna_paths:
        report = json.loads(pathlib.Path(path).read_text())
        jobs = report.get("n_jobs", 1)
        for entry in report["results"]:
            by_jobs.setdefault(jobs, {})[(entry["schedule"], entry["trials"])] = entry
    if 1 not in by_jobs or 2 not in by_jobs:
        print("\n(--optuna needs one report with n_jobs 1 and one with n_jobs 2)")
        return

    def text(entry):
        if entry is None:
            return "-", None
        value = entry["us_per_trial"]
        mark = "" if entry["status"] == "measured" else f" ({entry['status']})"
        return f"{value:,.0f}{mark}", value

    header = ["schedule", "trials", "Optuna n_jobs=1 CPU µs/trial", "Optuna n_jobs=2 CPU µs/trial",
              "n_jobs 2 / 1", "Optuna n_jobs=2 wall µs/trial", "hpt pool CPU µs/trial",
              "Optuna n_jobs=2 / hpt pool"]
    rows = []
    for schedule, benchmark in OPTUNA_ROWS:
        for trials in sorted({t for (s, t) in by_jobs[2] if s == schedule}):
            one_text, one = text(by_jobs[1].get((schedule, trials)))
            two_entry = by_jobs[2].get((schedule, trials))
            two_text, two = text(two_entry)
            wall = "-"
            if two_entry and two_entry["status"] == "measured":
                wall = f"{two_entry['wall_seconds'] / trials * 1e6:,.0f}"
            pool = None
            for key, entries in runs.items():  # Hyperband: 1,029 trials against Optuna's 1,000
                if key[0] == benchmark and key[1] == 2 and key[2] and abs(key[2] - trials) < 0.05 * trials:
                    pool = median(entries, "cpu_seconds_per_trial") * 1e6
            rows.append([f"{schedule} (hpt {LABELS[benchmark]})", f"{trials:,}", one_text,
                         two_text, f"{two / one:.2f}x" if one and two else "-", wall,
                         f"{pool:.2f}" if pool else "-",
                         f"{two / pool:,.0f}x" if pool and two else "-"])
    print("\nOptuna with n_jobs = 1 and 2 against hpt's pool (2 workers), CPU time per trial\n")
    print(table(header, rows))
    print("\nMarkdown:\n")
    print(markdown(header, rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("speedup", nargs="*", help="hpt_bench_parallel_speedup JSON file(s)")
    parser.add_argument("--quiet-below", type=float,
                        help="also show only repetitions where other processes used less than "
                        "this share of the machine (e.g. 0.05)")
    parser.add_argument("--overhead", nargs="+",
                        help="hpt_bench_engine_overhead_parallel JSON file(s)")
    parser.add_argument("--optuna", nargs="+",
                        help="optuna_overhead.py outputs with --n-jobs 1 and --n-jobs 2")
    arguments = parser.parse_args()
    if not arguments.speedup and not arguments.overhead:
        parser.error("give a speedup JSON file, --overhead, or both")
    if arguments.speedup:
        runs, contexts = load_runs(arguments.speedup)
        print_speedup(runs, contexts, arguments.quiet_below)
    if arguments.overhead:
        overhead, _ = load_runs(arguments.overhead)
        print_overhead(overhead)
        if arguments.optuna:
            print_optuna(overhead, arguments.optuna)


if __name__ == "__main__":
    main()
