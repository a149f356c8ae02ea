"""The BLAS libraries mapped into this Python process and, if one is OpenBLAS, the kernel it runs.

Shared by pytorch_throughput.py (torch's BLAS) and optuna_overhead.py (numpy's). OpenBLAS picks
its kernel when it is loaded; openblas_get_corename() reports that choice, so it is asked through
ctypes from inside the measuring process rather than guessed from the environment.
"""

import ctypes
import os


def mapped_blas_libraries():
    """Real paths of the shared libraries with "blas" in their name mapped into this process."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower()}
    except OSError:
        return []
    return sorted({os.path.realpath(path) for path in paths if path.startswith("/")})


def openblas_info():
    """What the loaded OpenBLAS reports about itself, or None if no mapped library exports
    openblas_get_corename (then the BLAS is not OpenBLAS)."""
    # libopenblas* first: Debian's libblas.so.3 from OpenBLAS is a thin wrapper around it.
    for path in sorted(mapped_blas_libraries(),
                       key=lambda path: "openblas" not in os.path.basename(path)):
        # dlopen of a library already mapped returns that same instance: the one in use.
        library = ctypes.CDLL(path)
        if not hasattr(library, "openblas_get_corename"):
            continue
        library.openblas_get_corename.restype = ctypes.c_char_p
        library.openblas_get_config.restype = ctypes.c_char_p
        return {"core": library.openblas_get_corename().decode(),
                "config": library.openblas_get_config().decode(),
                "library": path,
                "num_threads": library.openblas_get_num_threads(),
                "coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
                "l2_size_env": os.environ.get("OPENBLAS_L2_SIZE")}
    return None
