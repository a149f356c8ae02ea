#!/usr/bin/python3
"""Golden data for hpt's reference MLP, losses, optimizers, schedules and safetensors import.

Run with Debian's interpreter (python3-torch), from anywhere:
    /usr/bin/python3 tests/golden/make_mlp_golden.py            # writes tests/golden/mlp_*
    /usr/bin/python3 tests/golden/make_mlp_golden.py --verify F # checks an hpt-written safetensors
                                                                # file F against mlp_classification
The tests never run PyTorch; they read the committed outputs of this script.

Every MLP case is the module MlpModule below: nn.Sequential(Linear, act, Dropout(0), ..., Linear)
stored as the attribute `layers`, so its state_dict names are those of hpt::models::Mlp.
The weights come from torch's seeded default initialisation, are written to the file, and the C++
tests load them; the float32 case uses the float64 values rounded to float32.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_format import write_tensor  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}

# name: (task, inputs, hidden, outputs, activation, batch)
CASES = {
    "classification": ("classification", 5, [7, 6], 4, "tanh", 6),
    "regression": ("regression", 4, [8, 5], 3, "relu", 5),
    "sigmoid": ("classification", 3, [4], 3, "sigmoid", 1),
    "linear": ("regression", 3, [], 2, "relu", 4),  # no hidden layer at all
}

# Optimizer settings written to each file too, so that the C++ side reads them from there.
SGD_NESTEROV = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
SGD_DAMPENED = dict(lr=0.05, momentum=0.5, dampening=0.2, weight_decay=0.0)
ADAM = dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
STEPS = 3


class MlpModule(nn.Module):
    def __init__(self, inputs, hidden, outputs, activation):
        super().__init__()
        modules = []
        width = inputs
        for units in hidden:
            modules += [nn.Linear(width, units), ACTIVATIONS[activation](), nn.Dropout(0.0)]
            width = units
        modules.append(nn.Linear(width, outputs))
        self.layers = nn.Sequential(*modules)

    def forward(self, x):
        return self.layers(x)


def loss_function(task):
    return nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()


def make_case(name, seed):
    task, inputs, hidden, outputs, activation, batch = CASES[name]
    torch.manual_seed(seed)
    model = MlpModule(inputs, hidden, outputs, activation).double()
    x = torch.randn(batch, inputs, dtype=torch.float64)
    if task == "classification":
        y = torch.randint(0, outputs, (batch,))
    else:
        y = torch.randn(batch, outputs, dtype=torch.float64)
    return model, x, y


def train(model, x, y, task, optimizer):
    losses = []
    criterion = loss_function(task)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def write_case(name, seed, dtype, suffix):
    task, inputs, hidden, outputs, activation, batch = CASES[name]
    base, x, y = make_case(name, seed)
    state = {k: v.to(dtype) for k, v in base.state_dict().items()}
    x = x.to(dtype)
    if task == "regression":
        y = y.to(dtype)

    def fresh():
        model = MlpModule(inputs, hidden, outputs, activation).to(dtype)
        model.load_state_dict(state)
        model.train()  # Dropout(0) is the identity even in training mode
        return model

    path = os.path.join(HERE, "mlp_%s_%s.txt" % (name, suffix))
    with open(path, "w") as out:
        out.write("# hpt golden data, torch %s, %s, task %s, activation %s\n"
                  % (torch.__version__, dtype, task, activation))
        write_tensor(out, "shape.inputs", torch.tensor(float(inputs)))
        write_tensor(out, "shape.hidden", torch.tensor([float(h) for h in hidden],
                                                       dtype=torch.float64).reshape(len(hidden)))
        write_tensor(out, "shape.outputs", torch.tensor(float(outputs)))
        write_tensor(out, "input", x)
        write_tensor(out, "target", y.double())
        for key, value in state.items():
            write_tensor(out, "initial." + key, value)

        model = fresh()
        output = model(x)
        loss = loss_function(task)(output, y)
        loss.backward()
        write_tensor(out, "output", output)
        write_tensor(out, "loss", loss)
        for key, parameter in model.named_parameters():
            write_tensor(out, "gradient." + key, parameter.grad)

        runs = {
            "sgd_nesterov": lambda m: torch.optim.SGD(m.parameters(), **SGD_NESTEROV),
            "sgd_dampened": lambda m: torch.optim.SGD(m.parameters(), **SGD_DAMPENED),
            "adam": lambda m: torch.optim.Adam(m.parameters(), **ADAM),
        }
        for run, make_optimizer in runs.items():
            model = fresh()
            losses = train(model, x, y, task, make_optimizer(model))
            write_tensor(out, run + ".losses", losses)
            for key, parameter in model.named_parameters():
                write_tensor(out, run + "." + key, parameter.detach())
    return state


def write_schedules_and_clipping():
    path = os.path.join(HERE, "mlp_schedules.txt")
    with open(path, "w") as out:
        out.write("# hpt golden data, torch %s: StepLR, CosineAnnealingLR, clip_grad_norm_\n"
                  % torch.__version__)
        base_rate = 0.1
        epochs = 25
        for name, make in (
            ("step", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
            ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10,
                                                                             eta_min=0.001)),
        ):
            parameter = nn.Parameter(torch.zeros(1, dtype=torch.float64))
            optimizer = torch.optim.SGD([parameter], lr=base_rate)
            scheduler = make(optimizer)
            rates, closed = [], []
            for epoch in range(epochs):
                # After `epoch` scheduler steps the optimizer trains epoch `epoch` with this rate.
                rates.append(optimizer.param_groups[0]["lr"])
                scheduler.last_epoch = epoch
                closed.append(scheduler._get_closed_form_lr()[0])
                scheduler.last_epoch = epoch
                optimizer.step()
                scheduler.step()
            write_tensor(out, name + ".rate", torch.tensor(rates, dtype=torch.float64))
            write_tensor(out, name + ".closed_form", torch.tensor(closed, dtype=torch.float64))

        torch.manual_seed(5)
        for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
            for case, max_norm in (("clip", 1.5), ("noclip", 100.0)):
                generator = torch.Generator().manual_seed(6)
                parameters = [nn.Parameter(torch.zeros(3, 4, dtype=dtype)),
                              nn.Parameter(torch.zeros(5, dtype=dtype))]
                for parameter in parameters:
                    parameter.grad = torch.randn(parameter.shape, generator=generator,
                                                 dtype=torch.float64).to(dtype)
                prefix = "%s_%s." % (case, suffix)
                write_tensor(out, prefix + "max_norm", torch.tensor(max_norm))
                write_tensor(out, prefix + "before0", parameters[0].grad)
                write_tensor(out, prefix + "before1", parameters[1].grad)
                norm = nn.utils.clip_grad_norm_(parameters, max_norm)
                write_tensor(out, prefix + "norm", norm)
                write_tensor(out, prefix + "after0", parameters[0].grad)
                write_tensor(out, prefix + "after1", parameters[1].grad)


DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64"}
DTYPES = {"F32": torch.float32, "F64": torch.float64}


def write_safetensors(path, tensors):
    """Writes the safetensors format by hand: u64 little-endian header size, JSON header padded
    with spaces to a multiple of 8 bytes, then the row-major little-endian tensor bytes."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for key, tensor in tensors.items():
        data = tensor.contiguous().numpy().astype(tensor.numpy().dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)


def read_safetensors(path):
    """An independent reader, used to check files that hpt wrote."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    header.pop("__metadata__", None)
    data = raw[8 + length:]
    tensors = {}
    for key, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        tensors[key] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(
            info["shape"])
    return tensors


def verify(path):
    """Checks that an hpt-written safetensors file holds mlp_classification's initial weights."""
    base, _, _ = make_case("classification", CASES_SEEDS["classification"])
    tensors = read_safetensors(path)
    expected = base.state_dict()
    if set(tensors) != set(expected):
        raise SystemExit("names differ: %s vs %s" % (sorted(tensors), sorted(expected)))
    for key, value in expected.items():
        got = tensors[key]
        if got.shape != value.shape:
            raise SystemExit("%s: shape %s, expected %s" % (key, got.shape, value.shape))
        if not torch.equal(got.double(), value.to(got.dtype).double()):
            raise SystemExit("%s: values differ" % key)
    model = MlpModule(5, [7, 6], 4, "tanh").to(next(iter(tensors.values())).dtype)
    model.load_state_dict(tensors)  # strict: names and shapes are exactly PyTorch's
    print("ok: %s loads into the PyTorch module (%d tensors)" % (path, len(tensors)))


CASES_SEEDS = {"classification": 1, "regression": 2, "sigmoid": 3, "linear": 4}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
        return
    torch.set_num_threads(1)
    for name, seed in CASES_SEEDS.items():
        write_case(name, seed, torch.float64, "f64")
        write_case(name, seed, torch.float32, "f32")
    write_schedules_and_clipping()
    base, _, _ = make_case("classification", CASES_SEEDS["classification"])
    for dtype, suffix in ((torch.float32, "f32"), (torch.float64, "f64")):
        state = {k: v.to(dtype) for k, v in base.state_dict().items()}
        path = os.path.join(HERE, "mlp_classification_%s.safetensors" % suffix)
        write_safetensors(path, state)
        back = read_safetensors(path)
        assert all(torch.equal(back[k], v) for k, v in state.items())


if __name__ == "__main__":
    main()
