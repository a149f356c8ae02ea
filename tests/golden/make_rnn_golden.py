#!/usr/bin/python3
"""Writes the golden files tests/golden/rnn_*.txt that tests/rnn/*golden*.cpp compare hpt's
Lstm, Gru and SequenceModel against. Run with Debian's interpreter (python3-torch):

    /usr/bin/python3 tests/golden/make_rnn_golden.py

Every file holds one scenario for one cell and one dtype (f64 or f32). The weights are PyTorch's
default initialisation under a fixed seed, drawn in float64; the float32 model gets the same values
rounded to float32, and the file records the values each model really used. Layouts follow
PyTorch: sequences (time, batch, features), states (layers, batch, hidden), weights (rows, cols).

Model scenarios (a module {rnn: nn.LSTM/nn.GRU, head: nn.Linear(hidden, outputs)}):
  m2o_classification, m2o_regression: head on output[-1] (the top layer's last state);
  m2m_classification, m2m_regression: head on every step of output, loss over time*batch.
  Tensors: config = [input, hidden, layers, outputs, time, batch], input, targets, the initial
  parameters under their state_dict names, output, h_n, (c_n), prediction, loss, grad.<name> for
  every parameter, grad.input, and for each optimizer run <run>.losses (3 steps) and <run>.<name>
  (parameters after the 3 steps) with runs
    sgd:      torch.optim.SGD(lr=0.1, momentum=0.9)
    sgd_clip: the same after clip_grad_norm_(parameters, 0.05) before each step
    adam:     torch.optim.Adam(lr=0.01)
  Every step is forward + loss + backward on the same minibatch.
Module scenario "state" (the bare nn.LSTM/nn.GRU): given h_0 (and c_0), loss = sum(output * R) +
  sum(h_n * S) (+ sum(c_n * U)); records output, h_n, (c_n), loss and the gradients of every
  parameter, the input, h_0 and c_0.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_format import write_tensor  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TIME, BATCH, INPUT, HIDDEN = 4, 3, 3, 5

SCENARIOS = {
    # name: (layers, outputs, many_to_many, classification)
    "m2o_classification": (2, 4, False, True),
    "m2o_regression": (1, 2, False, False),
    "m2m_classification": (1, 4, True, True),
    "m2m_regression": (2, 2, True, False),
}


class SequenceNet(torch.nn.Module):
    def __init__(self, cell, layers, outputs):
        super().__init__()
        recurrent = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
        self.rnn = recurrent(INPUT, HIDDEN, layers)
        self.head = torch.nn.Linear(HIDDEN, outputs)


def build(cell, layers, outputs, seed):
    torch.manual_seed(seed)
    return SequenceNet(cell, layers, outputs).double()


def run_model(net, x, targets, many_to_many, classification):
    output, state = net.rnn(x)
    if isinstance(state, tuple):
        h_n, c_n = state
    else:
        h_n, c_n = state, None
    prediction = net.head(output if many_to_many else output[-1])
    if classification:
        loss = torch.nn.functional.cross_entropy(prediction.reshape(-1, prediction.shape[-1]),
                                                 targets.reshape(-1))
    else:
        loss = torch.nn.functional.mse_loss(prediction, targets)
    return output, h_n, c_n, prediction, loss


def optimizer_run(net, x, targets, many_to_many, classification, make_optimizer, clip):
    optimizer = make_optimizer(net.parameters())
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = run_model(net, x, targets, many_to_many, classification)[4]
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def write_model_scenario(cell, scenario, seed):
    layers, outputs, many_to_many, classification = SCENARIOS[scenario]
    reference = build(cell, layers, outputs, seed)
    generator = torch.Generator().manual_seed(seed + 1000)
    x64 = torch.rand(TIME, BATCH, INPUT, generator=generator, dtype=torch.float64) * 2 - 1
    target_shape = (TIME, BATCH) if many_to_many else (BATCH,)
    if classification:
        targets = torch.randint(0, outputs, target_shape, generator=generator)
    else:
        targets64 = torch.rand(*target_shape, outputs, generator=generator,
                               dtype=torch.float64) * 2 - 1
    for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
        def fresh():
            net = build(cell, layers, outputs, seed)
            net.load_state_dict(reference.state_dict())
            return net.to(dtype)

        net = fresh()
        x = x64.to(dtype).detach().clone().requires_grad_(True)
        target = targets if classification else targets64.to(dtype)
        output, h_n, c_n, prediction, loss = run_model(net, x, target, many_to_many,
                                                       classification)
        loss.backward()
        path = os.path.join(HERE, "rnn_%s_%s_%s.txt" % (cell, scenario, suffix))
        with open(path, "w") as out:
            out.write("# %s %s %s, written by make_rnn_golden.py with torch %s\n"
                      % (cell, scenario, suffix, torch.__version__))
            write_tensor(out, "config", torch.tensor(
                [INPUT, HIDDEN, layers, outputs, TIME, BATCH], dtype=torch.float64))
            write_tensor(out, "input", x)
            write_tensor(out, "targets", target.double())
            for name, parameter in net.state_dict().items():
                write_tensor(out, name, parameter)
            write_tensor(out, "output", output)
            write_tensor(out, "h_n", h_n)
            if c_n is not None:
                write_tensor(out, "c_n", c_n)
            write_tensor(out, "prediction", prediction)
            write_tensor(out, "loss", loss)
            for name, parameter in net.named_parameters():
                write_tensor(out, "grad." + name, parameter.grad)
            write_tensor(out, "grad.input", x.grad)
            runs = (
                ("sgd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), None),
                ("sgd_clip", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 0.05),
                ("adam", lambda p: torch.optim.Adam(p, lr=0.01), None),
            )
            for run, make_optimizer, clip in runs:
                trained = fresh()
                losses = optimizer_run(trained, x.detach(), target, many_to_many, classification,
                                       make_optimizer, clip)
                write_tensor(out, run + ".losses", losses)
                for name, parameter in trained.named_parameters():
                    write_tensor(out, run + "." + name, parameter)


def write_state_scenario(cell, seed):
    layers = 2
    recurrent = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    torch.manual_seed(seed)
    reference = recurrent(INPUT, HIDDEN, layers).double()
    generator = torch.Generator().manual_seed(seed + 1000)

    def uniform(*shape):
        return torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1

    x64 = uniform(TIME, BATCH, INPUT)
    h64, c64 = uniform(layers, BATCH, HIDDEN), uniform(layers, BATCH, HIDDEN)
    r64, s64, u64 = uniform(TIME, BATCH, HIDDEN), uniform(layers, BATCH, HIDDEN), uniform(
        layers, BATCH, HIDDEN)
    for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
        module = recurrent(INPUT, HIDDEN, layers).double()
        module.load_state_dict(reference.state_dict())
        module = module.to(dtype)
        x = x64.to(dtype).detach().clone().requires_grad_(True)
        h0 = h64.to(dtype).detach().clone().requires_grad_(True)
        c0 = c64.to(dtype).detach().clone().requires_grad_(True)
        if cell == "lstm":
            output, (h_n, c_n) = module(x, (h0, c0))
            loss = (output * r64.to(dtype)).sum() + (h_n * s64.to(dtype)).sum() + (
                c_n * u64.to(dtype)).sum()
        else:
            output, h_n = module(x, h0)
            c_n = None
            loss = (output * r64.to(dtype)).sum() + (h_n * s64.to(dtype)).sum()
        loss.backward()
        path = os.path.join(HERE, "rnn_%s_state_%s.txt" % (cell, suffix))
        with open(path, "w") as out:
            out.write("# %s state %s, written by make_rnn_golden.py with torch %s\n"
                      % (cell, suffix, torch.__version__))
            write_tensor(out, "config", torch.tensor(
                [INPUT, HIDDEN, layers, 0, TIME, BATCH], dtype=torch.float64))
            write_tensor(out, "input", x)
            write_tensor(out, "h_0", h0)
            write_tensor(out, "output_weight", r64.to(dtype))
            write_tensor(out, "h_n_weight", s64.to(dtype))
            if cell == "lstm":
                write_tensor(out, "c_0", c0)
                write_tensor(out, "c_n_weight", u64.to(dtype))
            for name, parameter in module.state_dict().items():
                write_tensor(out, name, parameter)
            write_tensor(out, "output", output)
            write_tensor(out, "h_n", h_n)
            if c_n is not None:
                write_tensor(out, "c_n", c_n)
            write_tensor(out, "loss", loss)
            for name, parameter in module.named_parameters():
                write_tensor(out, "grad." + name, parameter.grad)
            write_tensor(out, "grad.input", x.grad)
            write_tensor(out, "grad.h_0", h0.grad)
            if cell == "lstm":
                write_tensor(out, "grad.c_0", c0.grad)


def main():
    torch.set_num_threads(1)
    seed = 20261126
    for cell in ("lstm", "gru"):
        for index, scenario in enumerate(SCENARIOS):
            write_model_scenario(cell, scenario, seed + 10 * index + (0 if cell == "lstm" else 5))
        write_state_scenario(cell, seed + 100 + (0 if cell == "lstm" else 5))


if __name__ == "__main__":
    main()
