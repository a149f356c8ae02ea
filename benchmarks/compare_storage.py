#!/usr/bin/python3
"""hpt's SQLite storage beside Optuna's SQLite and journal storages: overhead per trial, one table.

    /usr/bin/python3 benchmarks/compare_storage.py build/gcc/benchmarks/hpt_bench_storage_overhead

Runs benchmarks/storage_overhead.cpp (the binary given) and benchmarks/optuna_storage_overhead.py
in the same session, then prints the side-by-side tables as text and Markdown (for
docs/performance.md): per schedule, hpt's time per trial without a storage and on SQLite, and
Optuna's without a storage, on RDBStorage (SQLite) and on JournalFileStorage, with the ratios
Optuna / hpt-on-SQLite, once for wall time and once for CPU time; then the time hpt takes to
reopen and resume a stored study. hpt runs 1e3 and 1e4 trials, Optuna --optuna-trials (150 by
default: about a third of a second per trial on SQLite); both counts are in the table. Optuna's
cost per trial grows with the study, so the ratios against its smaller studies understate it.
hpt's figures are the median of --repetitions, Optuna's of --optuna-repetitions. The raw JSON of
both runs is kept in --output.
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (hpt benchmark, Optuna schedule, row label)
SCHEDULES = [
    ("BM_RandomSearch", "random", "random search, 27 steps"),
    ("BM_SuccessiveHalving", "successive_halving", "successive halving (r 1, R 27, eta 3)"),
    ("BM_Hyperband", "hyperband", "Hyperband (R 27, eta 3)"),
]
TARGETS = {"sqlite": 100, "journal": 30}
SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
NAME = re.compile(r"^(BM_\w+?)/(?:(\w+)/)?trials:(\d+)(?:/|$)")


def run_hpt(binary, arguments, output):
    counts = "|".join(str(count) for count in arguments.trials)
    pattern = f"^BM_(RandomSearch|SuccessiveHalving|Hyperband)/[a-z_]+/trials:({counts})/"
    if arguments.resume_trials:
        pattern += f"|^BM_ReopenResume/trials:({'|'.join(map(str, arguments.resume_trials))})/"
    command = [str(binary), f"--benchmark_filter={pattern}", f"--benchmark_out={output}",
               "--benchmark_out_format=json",
               f"--benchmark_repetitions={arguments.repetitions}",
               "--benchmark_report_aggregates_only=true"]
    if arguments.min_time:
        command.append(f"--benchmark_min_time={arguments.min_time}")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(pathlib.Path(output).read_text())


def hpt_medians(report):
    """{(benchmark, variant, trials): {"wall": s, "cpu": s per iteration, counters...}}."""
    medians = {}
    for entry in report["benchmarks"]:
        if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") != "median":
            continue
        match = NAME.match(entry["run_name"])
        if not match or entry.get("error_occurred"):
            continue
        name, variant, trials = match.group(1), match.group(2), int(match.group(3))
        unit = SECONDS[entry.get("time_unit", "ns")]
        medians[(name, variant, trials)] = dict(
            entry, wall=entry["real_time"] * unit, cpu=entry["cpu_time"] * unit)
    return medians


def run_optuna(arguments, output):
    command = ["/usr/bin/python3", str(ROOT / "benchmarks" / "optuna_storage_overhead.py"),
               "--trials", str(arguments.optuna_trials),
               "--repetitions", str(arguments.optuna_repetitions),
               "--time-limit", str(arguments.optuna_time_limit), "--output", str(output)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(pathlib.Path(output).read_text())


def number(value, digits=1):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def optuna_cell(entry, clock):
    if entry is None:
        return "-", None
    per_trial = entry["us_per_trial"] if clock == "wall" else entry["cpu_us_per_trial"]
    return number(per_trial, 0), per_trial


def ratio_cell(theirs, ours, target):
    if theirs is None or not ours:
        return "-"
    ratio = theirs / ours
    return f"{ratio:,.0f}x ({'meets' if ratio >= target else 'below'} {target}x)"


def table(hpt, optuna, arguments, clock):
    header = ["schedule", "hpt trials", "hpt in-memory µs/trial", "hpt SQLite µs/trial",
              "hpt SQLite cost µs/trial", "hpt SQLite µs/step", "Optuna trials",
              "Optuna in-memory µs/trial", "Optuna SQLite µs/trial", "Optuna journal µs/trial",
              "Optuna SQLite / hpt SQLite", "Optuna journal / hpt SQLite"]
    rows = []
    for benchmark, schedule, label in SCHEDULES:
        theirs = {storage: optuna.get((schedule, storage)) for storage in ("memory", "sqlite",
                                                                           "journal")}
        run = [entry for entry in theirs.values() if entry]
        optuna_trials = "-"
        if run:
            counts = sorted({entry["trials_run"] for entry in run})
            optuna_trials = " / ".join(f"{count:,}" for count in counts)
            if any(entry["status"] == "partial" for entry in run):
                optuna_trials += " (stopped at the time limit)"
        variants = [("sqlite", "")] + ([("sqlite_full", ", SqliteSync::full")]
                                       if benchmark == "BM_RandomSearch" else [])
        for trials in sorted(arguments.trials):
            memory = hpt.get((benchmark, "memory", trials))
            for variant, suffix in variants:
                ours = hpt.get((benchmark, variant, trials))
                if ours is None:
                    continue
                count = ours.get("trials", trials)
                per_trial = ours[clock] / count * 1e6
                base = memory[clock] / count * 1e6 if memory else None
                cells = {storage: optuna_cell(entry, clock) for storage, entry in theirs.items()}
                rows.append([
                    label + suffix, f"{count:,.0f}", number(base, 2), number(per_trial, 2),
                    number(per_trial - base, 2) if base is not None else "-",
                    number(ours[clock] / ours["steps"] * 1e6, 2) if ours.get("steps") else "-",
                    optuna_trials, cells["memory"][0], cells["sqlite"][0], cells["journal"][0],
                    ratio_cell(cells["sqlite"][1], per_trial, TARGETS["sqlite"]),
                    ratio_cell(cells["journal"][1], per_trial, TARGETS["journal"])])
    return header, rows


def resume_table(hpt, clock_unused=None):
    header = ["trials", "events", "reopen + resume, wall s", "CPU s", "events/s (wall)"]
    rows = []
    for (name, _, trials), entry in sorted(hpt.items(), key=lambda item: item[0][2]):
        if name != "BM_ReopenResume":
            continue
        events = entry.get("events", 0)
        rows.append([f"{trials:,}", f"{events:,.0f}", f"{entry['wall']:.3f}", f"{entry['cpu']:.3f}",
                     f"{events / entry['wall']:,.0f}" if entry["wall"] else "-"])
    return header, rows


def print_text(header, rows):
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def print_markdown(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", help="hpt_bench_storage_overhead (not needed with "
                        "--hpt-json)")
    parser.add_argument("--trials", type=int, nargs="+", default=[1000, 10000],
                        help="hpt's trial counts")
    parser.add_argument("--resume-trials", type=int, nargs="*", default=[100000],
                        help="sizes of the stored study BM_ReopenResume reopens (none: skip it)")
    parser.add_argument("--repetitions", type=int, default=3, help="hpt's repetitions")
    parser.add_argument("--min-time", help="--benchmark_min_time for hpt (smoke runs)")
    parser.add_argument("--optuna-trials", type=int, default=150)
    parser.add_argument("--optuna-repetitions", type=int, default=1)
    parser.add_argument("--optuna-time-limit", type=float, default=75.0,
                        help="wall seconds after which an Optuna study is stopped")
    parser.add_argument("--hpt-json", help="reuse this storage_overhead output instead of running hpt")
    parser.add_argument("--optuna-json", help="reuse this optuna_storage_overhead.py output")
    parser.add_argument("--output", default=str(ROOT / "build" / "storage_overhead"))
    arguments = parser.parse_args()
    if not arguments.hpt_json and not arguments.binary:
        parser.error("give the hpt_bench_storage_overhead binary, or --hpt-json")

    output = pathlib.Path(arguments.output)
    output.mkdir(parents=True, exist_ok=True)
    if arguments.hpt_json:
        hpt_report = json.loads(pathlib.Path(arguments.hpt_json).read_text())
    else:
        print("running hpt ...", file=sys.stderr)
        hpt_report = run_hpt(pathlib.Path(arguments.binary).resolve(), arguments,
                             output / "hpt.json")
    if arguments.optuna_json:
        optuna_report = json.loads(pathlib.Path(arguments.optuna_json).read_text())
    else:
        print("running Optuna (about a minute per study on SQLite) ...", file=sys.stderr)
        optuna_report = run_optuna(arguments, output / "optuna.json")

    hpt = hpt_medians(hpt_report)
    optuna = {(entry["schedule"], entry["storage"]): entry for entry in optuna_report["results"]}
    tables = {}
    for clock, title in (("wall", "Wall time"), ("cpu", "CPU time (process)")):
        header, rows = table(hpt, optuna, arguments, clock)
        tables[clock] = [header] + rows
        print(f"\n{title} per trial:\n")
        print_text(header, rows)
    header, rows = resume_table(hpt)
    tables["resume"] = [header] + rows
    if rows:
        print("\nReopening and resuming a finished random-search study (3 steps per trial):\n")
        print_text(header, rows)

    context = hpt_report.get("context", {})
    print(f"\nhpt: {context.get('compiler', '?')}, {context.get('assertions', '?')}, SQLite "
          f"{context.get('sqlite', '?')}, files in {context.get('storage_directory', '?')}, "
          f"load average {context.get('load_avg', '?')} at the start")
    print(f"Optuna {optuna_report['optuna_version']} (SQLAlchemy "
          f"{optuna_report.get('sqlalchemy_version', '?')}), Python {optuna_report['python']}, "
          f"{optuna_report['results'][0]['trials'] if optuna_report['results'] else '?'} trials "
          f"asked per study, files in {optuna_report.get('storage_directory', '?')}, load average "
          f"{optuna_report.get('load_avg_start', '?')} at the start")

    print("\nMarkdown:")
    for clock, title in (("wall", "Wall time"), ("cpu", "CPU time")):
        print(f"\n{title} per trial:\n")
        print_markdown(tables[clock][0], tables[clock][1:])
    if len(tables["resume"]) > 1:
        print("\nReopen and resume:\n")
        print_markdown(tables["resume"][0], tables["resume"][1:])
    combined = {"hpt": hpt_report, "optuna": optuna_report, "tables": tables}
    (output / "comparison.json").write_text(json.dumps(combined, indent=2))
    print(f"\nraw results: {output}", file=sys.stderr)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
