#!/usr/bin/python3
"""Optuna's per-trial overhead on its durable storages, on the schedules of
benchmarks/storage_overhead.cpp.

Run with Debian's interpreter, which has python3-optuna 3.1 and SQLAlchemy:

    /usr/bin/python3 benchmarks/optuna_storage_overhead.py --trials 150 > optuna_storage.json

The objective, sampler and pruners are those of benchmarks/optuna_overhead.py (imported from it):
RandomSampler(seed=42), learning_rate log-uniform in [1e-6, 1e-1], minibatch_size one of 1 .. 256,
and at step t = 1 .. 27 the value (log10(learning_rate) + 3)^2 + 1/t passed to trial.report()
followed by trial.should_prune(); NopPruner for random search, SuccessiveHalvingPruner and
HyperbandPruner (min_resource 1, reduction factor 3, max_resource 27) for the halving schedules.
The storages:

    sqlite   optuna.storages.RDBStorage("sqlite:///<dir>/study.db") (SQLAlchemy, SQLite's
             defaults: rollback journal, synchronous FULL)
    journal  optuna.storages.JournalStorage(optuna.storages.JournalFileStorage("<dir>/journal.log"))
    memory   the default in-memory storage (the baseline: what Optuna costs without a storage)

Each study starts on a fresh file in a new directory under tempfile.gettempdir() (so TMPDIR
chooses the file system), removed afterwards. The time of a study runs from the construction of
the storage (which creates the SQLite schema) through optuna.create_study() and study.optimize();
the setup part is also reported alone. Wall seconds (time.perf_counter: a storage's cost is
partly waiting for the disk) and the process's CPU seconds (time.process_time) are both
recorded; per-trial figures divide by the trials run.

Optuna on SQLite costs about a third of a second per trial here, and its cost per trial grows
with the study (every should_prune() reads the study's trials back), so the studies are small
(--trials, default 150) and one still running after --time-limit wall seconds is stopped (after
the trial in progress): it is then reported as "partial" with the trials it ran. The trial
counts differ from hpt's (1e3 and 1e4); since Optuna's cost per trial grows with the study, a
ratio against a smaller Optuna study understates Optuna's cost. Nothing is extrapolated.
"""

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings

import optuna
import sqlalchemy

from optuna_overhead import MINIBATCH_SIZES, STEPS, make_pruner

STORAGES = ["sqlite", "journal", "memory"]
SCHEDULES = ["random", "successive_halving", "hyperband"]


def make_storage(kind, directory):
    if kind == "sqlite":
        return optuna.storages.RDBStorage(f"sqlite:///{os.path.join(directory, 'study.db')}")
    if kind == "journal":
        return optuna.storages.JournalStorage(
            optuna.storages.JournalFileStorage(os.path.join(directory, "journal.log")))
    if kind == "memory":
        return None
    raise ValueError(kind)


def run_study(schedule, storage_kind, trials, time_limit):
    """One study on a fresh storage: wall and CPU seconds (whole and setup), steps, trials run."""
    steps = 0

    def objective(trial):
        nonlocal steps
        learning_rate = trial.suggest_float("learning_rate", 1e-6, 1e-1, log=True)
        trial.suggest_categorical("minibatch_size", MINIBATCH_SIZES)
        x = math.log10(learning_rate) + 3
        value = 0.0
        for step in range(1, STEPS + 1):
            value = x * x + 1.0 / step
            trial.report(value, step)
            steps += 1
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    directory = tempfile.mkdtemp(prefix="hpt_optuna_storage_")
    done = 0
    try:
        start, start_cpu = time.perf_counter(), time.process_time()
        storage = make_storage(storage_kind, directory)
        study = optuna.create_study(
            storage=storage,
            study_name="bench",
            direction="minimize",
            sampler=optuna.samplers.RandomSampler(seed=42),
            pruner=make_pruner(schedule),
        )
        setup, setup_cpu = time.perf_counter() - start, time.process_time() - start_cpu

        def stop_at_limit(study, trial):
            nonlocal done
            done += 1
            if time.perf_counter() - start > time_limit:
                study.stop()

        study.optimize(objective, n_trials=trials, callbacks=[stop_at_limit])
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()  # closes the file before it is removed
        del study, storage
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"wall": wall, "cpu": cpu, "setup_wall": setup, "setup_cpu": setup_cpu,
            "steps": steps, "trials_run": done}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=150,
                        help="trials per study (hpt runs 1e3 and 1e4; see the module docstring)")
    parser.add_argument("--schedules", nargs="+", default=SCHEDULES, choices=SCHEDULES)
    parser.add_argument("--storages", nargs="+", default=STORAGES, choices=STORAGES)
    parser.add_argument("--repetitions", type=int, default=1,
                        help="studies per configuration (median reported)")
    parser.add_argument("--time-limit", type=float, default=75.0,
                        help="wall seconds after which a study is stopped (reported as partial)")
    parser.add_argument("--output", help="also write the JSON here, rewritten after every study "
                        "so that an interrupted run keeps what it measured")
    arguments = parser.parse_args()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    results = []
    report = {
        "optuna_version": optuna.__version__,
        "sqlalchemy_version": sqlalchemy.__version__,
        "python": platform.python_version(),
        "sampler": "RandomSampler(seed=42)",
        "storage_directory": tempfile.gettempdir(),
        "load_avg_start": list(os.getloadavg()),
        "results": results,
    }
    for schedule in arguments.schedules:
        for storage in arguments.storages:
            runs = []
            for _ in range(arguments.repetitions):
                run = run_study(schedule, storage, arguments.trials, arguments.time_limit)
                runs.append(run)
                print(f"{schedule} {storage}: {run['wall']:.2f} s wall, {run['cpu']:.2f} s CPU "
                      f"(setup {run['setup_wall']:.2f} s), {run['trials_run']} trials, "
                      f"{run['steps']} steps", file=sys.stderr)
            # The median by wall time; each figure per trial is of that study's own trials.
            middle = sorted(runs, key=lambda run: run["wall"])[(len(runs) - 1) // 2]
            done = middle["trials_run"]
            results.append({
                "schedule": schedule,
                "storage": storage,
                "trials": arguments.trials,
                "trials_run": done,
                "status": "measured" if done >= arguments.trials else "partial",
                "steps": middle["steps"],
                "wall_seconds": middle["wall"],
                "cpu_seconds": middle["cpu"],
                "setup_wall_seconds": middle["setup_wall"],
                "setup_cpu_seconds": middle["setup_cpu"],
                "us_per_trial": middle["wall"] / done * 1e6,
                "cpu_us_per_trial": middle["cpu"] / done * 1e6,
                "us_per_step": middle["wall"] / max(middle["steps"], 1) * 1e6,
                "wall_runs": [run["wall"] for run in runs],
                "cpu_runs": [run["cpu"] for run in runs],
                "wall_spread": (statistics.pstdev(run["wall"] for run in runs)
                                / statistics.mean(run["wall"] for run in runs)),
            })
            write(report, arguments.output)
    report["load_avg_end"] = list(os.getloadavg())
    write(report, arguments.output)
    json.dump(report, sys.stdout, indent=2)
    print()


def write(report, path):
    if path:
        with open(path + ".tmp", "w") as out:
            json.dump(report, out, indent=2)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
