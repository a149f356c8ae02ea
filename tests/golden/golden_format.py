"""Writes tensors in the plain-text golden format read by tests/support/golden.hpp."""


def write_tensor(out, name, tensor):
    """Appends one tensor (anything with .shape and a row-major .flatten()/.reshape(-1))."""
    t = tensor.detach().double().cpu().reshape(-1) if hasattr(tensor, "detach") else tensor
    shape = list(tensor.shape)
    out.write("tensor %s %d %s\n" % (name, len(shape), " ".join(str(d) for d in shape)))
    out.write(" ".join("%.17g" % float(v) for v in t) + "\n")
