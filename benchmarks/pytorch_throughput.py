#!/usr/bin/python3
"""PyTorch's minibatch throughput on the models of benchmarks/model_throughput.cpp, as JSON.

    /usr/bin/python3 benchmarks/pytorch_throughput.py --threads 1 --output pytorch.json

The same three float32 configurations as hpt's benchmark, on the CPU:
  mlp   nn.Sequential(Linear(784, 256), ReLU, Linear(256, 256), ReLU, Linear(256, 10));
  lstm  nn.LSTM(32, 128) over 32 steps (batch_first=False), Linear(128, 10) on the last output;
  gru   the same with nn.GRU;
nn.CrossEntropyLoss and torch.optim.SGD(lr=0.01) (PyTorch's defaults: no momentum, foreach as
the installed version chooses). A training step is optimizer.zero_grad(set_to_none=True),
forward, loss, loss.backward(), optimizer.step(); an inference step is a forward pass under
torch.inference_mode().

Timing: wall-clock time (time.perf_counter), as hpt's benchmark (UseRealTime). Each (model, mode,
minibatch) gets untimed warm-up steps, then an iteration count calibrated to last at least
--min-time seconds, then --repetitions timed runs of that many steps; the median run is reported.
Process CPU time is recorded too (with one thread, CPU time well below wall time means the
process was waiting for a core: the machine was busy). Inputs and targets are fixed random values
made before timing. Float torch.mm of n x n matrices (n = 256, 512, 1024) is timed the same way;
the best repetition of the best size is PyTorch's GEMM peak ("gemm").

Which BLAS library torch's matrix products use depends on the system: Debian's python3-torch
links libblas.so.3, which is the netlib reference BLAS unless an optimised one is installed or
put first on LD_LIBRARY_PATH (benchmarks/run_throughput.sh does the latter with OpenBLAS). The
library actually loaded is recorded under "blas_library".

OpenBLAS's kernel: OpenBLAS chooses it when it is loaded, from the CPU model, and on a model it
does not know it can fall back to an old one that runs torch.mm several times slower. Before
measuring, this script asks the loaded OpenBLAS which kernel it runs (openblas_get_corename, via
ctypes) and has benchmarks/openblas_kernel.sh check it against the CPU's instruction sets (or
HPT_OPENBLAS_CORETYPE); a mismatch, or a BLAS that is not OpenBLAS, is refused: exit status 1,
nothing measured (--openblas-check off skips the check, for the reference-BLAS run). Set
OPENBLAS_CORETYPE to `benchmarks/openblas_kernel.sh coretype` to get the right kernel. The kernel,
OpenBLAS's configuration string and the check are recorded under "openblas".
"""

import argparse
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from openblas_info import mapped_blas_libraries, openblas_info

INPUTS, HIDDEN, CLASSES = 784, 256, 10
RNN_INPUT, RNN_HIDDEN, RNN_TIME = 32, 128, 32
LEARNING_RATE = 0.01
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]

# FLOPs per sample, counted as in benchmarks/model_throughput.cpp (2*m*n*k per matrix product,
# element-wise work ignored; training = 3 x forward minus the first layer's input gradient).
MLP_FORWARD = 2 * (INPUTS * HIDDEN + HIDDEN * HIDDEN + HIDDEN * CLASSES)


def rnn_forward_flop(gates):
    return RNN_TIME * (2 * gates * RNN_HIDDEN * RNN_INPUT + 2 * gates * RNN_HIDDEN * RNN_HIDDEN) \
        + 2 * CLASSES * RNN_HIDDEN


FLOP_PER_SAMPLE = {
    ("mlp", "train"): 3 * MLP_FORWARD - 2 * INPUTS * HIDDEN,
    ("mlp", "infer"): MLP_FORWARD,
    ("lstm", "train"): 3 * rnn_forward_flop(4) - RNN_TIME * 2 * 4 * RNN_HIDDEN * RNN_INPUT,
    ("lstm", "infer"): rnn_forward_flop(4),
    ("gru", "train"): 3 * rnn_forward_flop(3) - RNN_TIME * 2 * 3 * RNN_HIDDEN * RNN_INPUT,
    ("gru", "infer"): rnn_forward_flop(3),
}
assert FLOP_PER_SAMPLE[("mlp", "train")] == 1_211_392
assert FLOP_PER_SAMPLE[("lstm", "train")] == 14_687_744
assert FLOP_PER_SAMPLE[("gru", "train")] == 11_017_728


class SequenceClassifier(nn.Module):
    """nn.LSTM or nn.GRU and a Linear head on the last step's output (many-to-one)."""

    def __init__(self, cell):
        super().__init__()
        recurrent = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = recurrent(RNN_INPUT, RNN_HIDDEN, num_layers=1)
        self.head = nn.Linear(RNN_HIDDEN, CLASSES)

    def forward(self, x):  # x: (time, batch, input)
        output, _ = self.rnn(x)
        return self.head(output[-1])


def make_model(name):
    if name == "mlp":
        return nn.Sequential(nn.Linear(INPUTS, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN),
                             nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    return SequenceClassifier(name)


def make_input(name, batch, generator):
    if name == "mlp":
        return torch.randn(batch, INPUTS, generator=generator)
    return torch.randn(RNN_TIME, batch, RNN_INPUT, generator=generator)


def make_step(name, mode, batch):
    """A closure that runs one step of (model, mode) at this minibatch size."""
    generator = torch.Generator().manual_seed(42)
    torch.manual_seed(42)
    model = make_model(name)
    x = make_input(name, batch, generator)
    if mode == "infer":
        model.eval()

        def infer():
            with torch.inference_mode():
                return model(x)
        return infer

    targets = torch.randint(0, CLASSES, (batch,), generator=generator)
    loss_function = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    model.train()

    def train():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(x), targets)
        loss.backward()
        optimizer.step()
        return loss
    return train


def measure(step, min_time, repetitions, warm_up):
    """Median wall and CPU seconds per step over `repetitions` runs of a calibrated count."""
    for _ in range(warm_up):
        step()
    # Calibrate: double the count until a run lasts min_time / 4, then scale up to min_time.
    count = 1
    while True:
        start = time.perf_counter()
        for _ in range(count):
            step()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4 or count >= 1 << 20:
            break
        count *= 2
    count = max(1, math.ceil(count * min_time / max(elapsed, 1e-9)))
    walls, cpus = [], []
    for _ in range(repetitions):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(count):
            step()
        walls.append((time.perf_counter() - wall_start) / count)
        cpus.append((time.process_time() - cpu_start) / count)
    return {"iterations": count, "seconds_per_step": statistics.median(walls),
            "cpu_seconds_per_step": statistics.median(cpus), "seconds_per_step_all": walls,
            "cpu_seconds_per_step_all": cpus}


def gemm_step(n):
    generator = torch.Generator().manual_seed(42)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)
    c = torch.empty(n, n)
    return lambda: torch.mm(a, b, out=c)


def blas_library():
    """The BLAS shared library mapped into this process (torch's libblas.so.3 provider)."""
    return ", ".join(mapped_blas_libraries()) or "none"


KERNEL_HELPER = pathlib.Path(__file__).resolve().parent / "openblas_kernel.sh"


def check_openblas(enabled):
    """The "openblas" record of the report; exits with status 1 when the check is enabled and the
    kernel does not match the CPU (benchmarks/openblas_kernel.sh decides)."""
    info = openblas_info()
    record = dict(info or {"core": None}, check="not checked", accepted=None)
    accepted = subprocess.run(["bash", str(KERNEL_HELPER), "accepted"], capture_output=True,
                              text=True)
    if accepted.returncode == 0:
        record["accepted"] = accepted.stdout.split()
    if not enabled:
        print(f"OpenBLAS kernel: {record['core'] or 'none (not OpenBLAS)'}, not checked",
              file=sys.stderr)
        return record
    if info is None:
        sys.exit(f"refused: PyTorch's BLAS is not OpenBLAS ({blas_library()}), so its kernel "
                 "cannot be checked; put OpenBLAS first on LD_LIBRARY_PATH "
                 "(benchmarks/run_throughput.sh does) or pass --openblas-check off")
    check = subprocess.run(["bash", str(KERNEL_HELPER), "check", info["core"]],
                           capture_output=True, text=True)
    if check.returncode != 0:
        sys.stderr.write(check.stderr)
        sys.exit(1)
    record.update(check="matched", check_message=check.stdout.strip())
    print(f"{check.stdout.strip()}; {info['config']}; OPENBLAS_CORETYPE="
          f"{info['coretype_env'] or '(unset)'}", file=sys.stderr)
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--models", nargs="*", default=["mlp", "lstm", "gru"],
                        help="models to run (none: only the GEMM)")
    parser.add_argument("--modes", nargs="+", default=["train", "infer"])
    parser.add_argument("--batches", type=int, nargs="+", default=BATCHES)
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds per timed run (at least one step)")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=3, help="untimed steps first")
    parser.add_argument("--gemm", type=int, nargs="*", default=[256, 512, 1024],
                        help="sizes n of the GEMMs (none: no GEMM); the best is the peak")
    parser.add_argument("--label", default="", help="free text stored in the output")
    parser.add_argument("--output", help="JSON file (default: stdout)")
    parser.add_argument("--openblas-check", choices=["on", "off"], default="on",
                        help="refuse to measure unless the BLAS is OpenBLAS running the kernel "
                        "that matches the CPU (default on)")
    parser.add_argument("--check-openblas-only", action="store_true",
                        help="only check (and print) OpenBLAS's kernel, measure nothing")
    arguments = parser.parse_args()

    openblas = check_openblas(arguments.openblas_check == "on")
    if arguments.check_openblas_only:
        return
    torch.set_num_threads(arguments.threads)
    torch.set_grad_enabled(True)
    report = {
        "label": arguments.label,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "blas_library": None,
        "openblas": openblas,
        "torch_config": torch.__config__.show(),
        "parallel_info": torch.__config__.parallel_info(),
        "mkldnn_enabled": torch.backends.mkldnn.is_available(),
        "min_time": arguments.min_time,
        "repetitions": arguments.repetitions,
        "load_avg_start": list(os.getloadavg()),
        "results": [],
    }
    started = time.time()
    gemms = []
    for n in arguments.gemm:
        timing = measure(gemm_step(n), arguments.min_time, arguments.repetitions, 1)
        # A peak: the best repetition (the least disturbed on a shared machine).
        gemms.append({"n": n, **timing,
                      "gflops": 2 * n ** 3 / min(timing["seconds_per_step_all"]) / 1e9,
                      "gflops_median": 2 * n ** 3 / timing["seconds_per_step"] / 1e9})
    if gemms:
        report["gemm_sizes"] = gemms
        report["gemm"] = max(gemms, key=lambda gemm: gemm["gflops"])
    for name in arguments.models:
        for mode in arguments.modes:
            for batch in arguments.batches:
                step = make_step(name, mode, batch)
                timing = measure(step, arguments.min_time, arguments.repetitions,
                                 arguments.warm_up)
                per_step = timing["seconds_per_step"]
                flop = FLOP_PER_SAMPLE[(name, mode)]
                report["results"].append({
                    "model": name, "mode": mode, "batch": batch, **timing,
                    "samples_per_second": batch / per_step,
                    "flop_per_sample": flop, "gflops": batch * flop / per_step / 1e9})
                print(f"{name:4} {mode:5} batch {batch:3}: {batch / per_step:12,.1f} samples/s "
                      f"{batch * flop / per_step / 1e9:7.2f} GFLOP/s", file=sys.stderr)
    report["blas_library"] = blas_library()
    if openblas["core"] is not None:
        # OpenBLAS's own thread count after the runs (its OpenMP build follows torch's).
        openblas["num_threads_at_end"] = (openblas_info() or {}).get("num_threads")
    report["load_avg_end"] = list(os.getloadavg())
    report["seconds"] = time.time() - started
    text = json.dumps(report, indent=2)
    if arguments.output:
        with open(arguments.output, "w") as out:
            out.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
