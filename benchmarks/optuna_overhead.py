#!/usr/bin/python3
"""Optuna's per-trial overhead on the schedules of benchmarks/engine_overhead.cpp.

Run with Debian's interpreter, which has python3-optuna 3.1:

    /usr/bin/python3 benchmarks/optuna_overhead.py --trials 1000 10000 > optuna.json

Every study is in memory (Optuna's default InMemoryStorage) with RandomSampler(seed=42). The
objective is the same trivial function as hpt's benchmark: learning_rate log-uniform in
[1e-6, 1e-1], minibatch_size one of 1 .. 256, and at step t = 1 .. 27 the value
(log10(learning_rate) + 3)^2 + 1/t, passed to trial.report() followed by trial.should_prune().
So everything but that one line of arithmetic is Optuna's overhead.

Parallel trials: --n-jobs N (default 1, Optuna's own default) is passed to study.optimize(), which
then runs N trials at once on a thread pool; time.process_time() counts every thread. The study and
its results are otherwise the same code path.

Times are CPU seconds of the process (time.process_time), the median of --repetitions runs;
wall seconds are recorded too. Optuna's pruners cost more as a study grows (they scan every earlier trial), so a schedule's
larger trial counts are skipped when the run would exceed --time-limit seconds, predicted from the
two counts before it (or linearly from one), and a study still running at the limit is stopped;
the prediction is printed instead, marked "extrapolated" or "partial" (with the trials actually
run). Nothing is extrapolated silently.

BLAS: importing Optuna imports numpy and scipy, which load the system's libblas.so.3, but these
studies (RandomSampler, the pruners, a trivial objective) do no matrix products: Optuna's time
per trial was the same within noise on the reference BLAS and on OpenBLAS with its SkylakeX or
Prescott kernel. So no kernel is forced here; the BLAS libraries loaded and, if one is OpenBLAS,
its kernel are recorded under "blas" (a sampler that does use BLAS, such as TPE, would need the
pinning of benchmarks/run_throughput.sh).
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import optuna

from openblas_info import mapped_blas_libraries, openblas_info

STEPS = 27
MINIBATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def make_pruner(schedule):
    if schedule == "random":
        return optuna.pruners.NopPruner()
    if schedule == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if schedule == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=STEPS, reduction_factor=3)
    if schedule == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0, interval_steps=1)
    raise ValueError(schedule)


def run_study(schedule, trials, cpu_limit, n_jobs=1):
    """Wall and CPU seconds of one study of `trials` trials, the number of reported steps, and the
    number of trials run: fewer than asked when the study was stopped at `cpu_limit` CPU seconds.
    With n_jobs > 1, Optuna runs that many trials at once on threads."""
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

    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=42),
        pruner=make_pruner(schedule),
    )
    start, start_cpu = time.perf_counter(), time.process_time()

    def stop_at_limit(study, trial):
        if time.process_time() - start_cpu > cpu_limit:
            study.stop()

    study.optimize(objective, n_trials=trials, callbacks=[stop_at_limit], n_jobs=n_jobs)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if n_jobs > 1:
        # `steps += 1` is not atomic across threads: count the reports the study recorded instead
        # (after the clocks stopped; with one job both counts are equal).
        steps = sum(len(trial.intermediate_values) for trial in study.trials)
    return wall, cpu, steps, len(study.trials)


def objective_alone(trials):
    """CPU seconds the objective's arithmetic takes without Optuna (the net-overhead baseline)."""
    start = time.process_time()
    total = 0.0
    for trial in range(trials):
        x = math.log10(1e-6 * (1 + trial % 1000)) + 3
        for step in range(1, STEPS + 1):
            total += x * x + 1.0 / step
    return time.process_time() - start


def predict(history, trials):
    """Seconds a study of `trials` trials would take, from the measured (trials, seconds) pairs:
    the power law through the last two points, or linear from one (never below linear)."""
    (n1, t1) = history[-1]
    exponent = 1.0
    if len(history) >= 2:
        (n0, t0) = history[-2]
        exponent = max(1.0, math.log(t1 / t0) / math.log(n1 / n0))
    return t1 * (trials / n1) ** exponent, exponent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--schedules", nargs="+",
                        default=["random", "successive_halving", "hyperband", "median"])
    parser.add_argument("--repetitions", type=int, default=3,
                        help="repetitions of studies that take under 30 s (median reported)")
    parser.add_argument("--output", help="also write the JSON here, rewritten after every study "
                        "so that an interrupted run keeps what it measured")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="trials Optuna runs at once (study.optimize's n_jobs, on threads)")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="skip a study predicted to take longer than this many CPU seconds, and "
                        "stop one that does")
    arguments = parser.parse_args()
    if arguments.n_jobs < 1:
        parser.error("--n-jobs must be at least 1")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = []
    report = {
        "optuna_version": optuna.__version__,
        "python": platform.python_version(),
        "storage": "in-memory",
        "sampler": "RandomSampler(seed=42)",
        "n_jobs": arguments.n_jobs,
        "blas": {"libraries": mapped_blas_libraries(), "openblas": openblas_info()},
        "objective_alone_us_per_trial": objective_alone(10000) / 10000 * 1e6,
        "results": results,
    }
    for schedule in arguments.schedules:
        history = []
        for trials in sorted(arguments.trials):
            write(report, arguments.output)
            entry = {"schedule": schedule, "trials": trials}
            if history:
                predicted, exponent = predict(history, trials)
                if predicted > arguments.time_limit:
                    entry.update(status="extrapolated", seconds=predicted,
                                 us_per_trial=predicted / trials * 1e6, growth_exponent=exponent)
                    results.append(entry)
                    print(f"{schedule} {trials}: skipped, predicted {predicted:.0f} s "
                          f"(cost ~ trials^{exponent:.2f})", file=sys.stderr)
                    continue
            runs, cpu_runs = [], []
            while True:
                seconds, cpu_seconds, steps, done = run_study(schedule, trials,
                                                              arguments.time_limit,
                                                              arguments.n_jobs)
                runs.append(seconds)
                cpu_runs.append(cpu_seconds)
                print(f"{schedule} {trials}: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU, "
                      f"{done} trials, {steps} steps", file=sys.stderr)
                if done < trials or len(runs) >= arguments.repetitions or sum(cpu_runs) > 30:
                    break
            if done < trials:
                # Stopped at the limit: the cost of the first `done` trials only, which understates
                # a cost that grows with the study; the full count is extrapolated from it.
                predicted, exponent = predict(history + [(done, cpu_seconds)], trials)
                entry.update(status="partial", trials_run=done, seconds_run=cpu_seconds,
                             steps=steps, seconds=predicted, us_per_trial=predicted / trials * 1e6,
                             growth_exponent=exponent)
                results.append(entry)
                history.append((trials, predicted))
                continue
            # CPU time is the figure compared: on a shared machine wall time includes waiting.
            seconds = statistics.median(cpu_runs)
            history.append((trials, seconds))
            entry.update(status="measured", seconds=seconds, wall_seconds=statistics.median(runs),
                         runs=runs, cpu_runs=cpu_runs, steps=steps,
                         us_per_trial=seconds / trials * 1e6, us_per_step=seconds / steps * 1e6)
            results.append(entry)
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
