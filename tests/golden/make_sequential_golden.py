#!/usr/bin/python3
"""Golden data for loading PyTorch's common nn.Sequential MLPs into hpt::models::Mlp.

Run with Debian's interpreter (python3-torch), from anywhere:
    /usr/bin/python3 tests/golden/make_sequential_golden.py             # writes the files below
    /usr/bin/python3 tests/golden/make_sequential_golden.py --verify D  # checks hpt-written files
The tests never run PyTorch; they read the committed outputs of this script:

    mlp_sequential_f64.safetensors          nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)
                                            state_dict names 0.*, 2.*, 4.*
    mlp_sequential_dropout_f64.safetensors  nn.Sequential(Linear, ReLU, Dropout, Linear, ReLU,
                                            Dropout, Linear): 0.*, 3.*, 6.*
    mlp_net_f64.safetensors                 a module whose attribute `net` is
                                            nn.Sequential(Linear, Tanh, Linear): net.0.*, net.2.*
    mlp_sequential_f64.txt                  per case a fixed input and the module's output in
                                            inference (eval() mode), plain text (golden_format.py)

--verify D reads D/<case>.safetensors, written by hpt with the layout of that case
(HPT_SAFETENSORS_SEQUENTIAL_EXPORT=D hpt_model_io_tests), with an independent reader, loads it
into the PyTorch module with load_state_dict(strict=True) and checks the values.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_format import write_tensor  # noqa: E402
from make_mlp_golden import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 3


class NetModule(nn.Module):
    """A module that holds the Sequential as an attribute: names net.0.*, net.2.*."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))

    def forward(self, x):
        return self.net(x)


# name: (seed, inputs, constructor)
CASES = {
    "sequential": (11, 5, lambda: nn.Sequential(
        nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 4))),
    "sequential_dropout": (12, 5, lambda: nn.Sequential(
        nn.Linear(5, 7), nn.ReLU(), nn.Dropout(0.25), nn.Linear(7, 6), nn.ReLU(),
        nn.Dropout(0.25), nn.Linear(6, 4))),
    "net": (13, 4, NetModule),
}


def make_case(name):
    seed, inputs, make = CASES[name]
    torch.manual_seed(seed)
    model = make().double()
    model.eval()  # Dropout is the identity in inference, as hpt's forward()
    x = torch.randn(BATCH, inputs, dtype=torch.float64)
    return model, x


def main():
    torch.set_num_threads(1)
    with open(os.path.join(HERE, "mlp_sequential_f64.txt"), "w") as out:
        out.write("# hpt golden data, torch %s: nn.Sequential MLPs in float64, eval() mode\n"
                  % torch.__version__)
        for name in CASES:
            model, x = make_case(name)
            state = model.state_dict()
            write_safetensors(os.path.join(HERE, "mlp_%s_f64.safetensors" % name), state)
            with torch.no_grad():
                output = model(x)
            write_tensor(out, name + ".input", x)
            write_tensor(out, name + ".output", output)


def verify(directory):
    for name in CASES:
        model, _ = make_case(name)
        expected = model.state_dict()
        path = os.path.join(directory, name + ".safetensors")
        tensors = read_safetensors(path)
        if list(tensors) != list(expected):
            raise SystemExit("%s: names %s, PyTorch's %s" % (path, list(tensors), list(expected)))
        fresh = CASES[name][2]().double()
        fresh.load_state_dict(tensors)  # strict: names and shapes are exactly PyTorch's
        for key, value in expected.items():
            if not torch.equal(fresh.state_dict()[key], value):
                raise SystemExit("%s: %s differs" % (path, key))
        print("ok: %s loads into the PyTorch module (%d tensors)" % (path, len(tensors)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
    else:
        main()
