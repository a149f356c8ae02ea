#!/usr/bin/python3
"""Cross-checks the scikit-learn schedules written by hand in tests/scheduling/successive_halving_scikit_learn_test.cpp
against scikit-learn itself. Run with Debian's interpreter (python3-sklearn):

    /usr/bin/python3 tests/golden/make_halving_golden.py

It writes no file: the C++ tests hold literal, hand-computed rungs (CI never runs Python). For each
case it fits HalvingGridSearchCV (a grid of `n` dummy candidates, or HalvingRandomSearchCV) with a
dummy estimator whose resource is a constructor parameter, and compares scikit-learn's
n_candidates_ and n_resources_ with the rungs the C++ test expects; it also checks those rungs
against scikit-learn's documented rules evaluated with exact integer logarithms. Cases marked
`float_log` are the ones where scikit-learn's floating-point log(x, factor) (log(243, 3) is
4.999...) drops an iteration: there the script checks that scikit-learn really gives the
shorter schedule written beside hpt's exact one, and prints both.

Exit status 0 when everything agrees.
"""
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV


class Dummy(BaseEstimator):
    """Fits nothing; the score depends on the candidate only, so ranks are deterministic."""

    def __init__(self, x=0, steps=1):
        self.x = x
        self.steps = steps

    def fit(self, X, y=None):
        return self

    def score(self, X, y=None):
        return -abs(self.x - 0.3)


# name, candidates, factor, min_resources ('exhaust', 'smallest' or int), max_resources,
# aggressive, resource ('steps', or 'n_samples' to get scikit-learn's 'smallest' = 2 * n_splits),
# hpt's expected rungs [(configurations, resource)], scikit-learn's own when float_log differs.
CASES = [
    ("factor 2, n = 10, r = 1, R = 16", 10, 2, 1, 16, False, "steps",
     [(10, 1), (5, 2), (3, 4), (2, 8)], None),
    ("factor 2, n = 10, r = 1, R = 16, aggressive", 10, 2, 1, 16, True, "steps",
     [(10, 2), (5, 4), (3, 8), (2, 16)], None),
    ("factor 3, n = 100, r = 1, R = 27", 100, 3, 1, 27, False, "steps",
     [(100, 1), (34, 3), (12, 9), (4, 27)], None),
    ("factor 3, n = 100, r = 1, R = 27, aggressive", 100, 3, 1, 27, True, "steps",
     [(100, 1), (34, 1), (12, 3), (4, 9), (2, 27)], None),
    ("factor 3, n = 10, r = 1, R = 9", 10, 3, 1, 9, False, "steps",
     [(10, 1), (4, 3), (2, 9)], None),
    ("factor 2, n = 20, r = 3, R = 30", 20, 2, 3, 30, False, "steps",
     [(20, 3), (10, 6), (5, 12), (3, 24)], None),
    ("factor 2, n = 20, r = 3, R = 30, aggressive", 20, 2, 3, 30, True, "steps",
     [(20, 3), (10, 3), (5, 6), (3, 12), (2, 24)], None),
    ("exhaust, factor 3, n = 30, R = 100", 30, 3, "exhaust", 100, False, "steps",
     [(30, 3), (10, 9), (4, 27), (2, 81)], None),
    ("exhaust, factor 2, n = 20, R = 50", 20, 2, "exhaust", 50, False, "steps",
     [(20, 3), (10, 6), (5, 12), (3, 24), (2, 48)], None),
    ("exhaust, factor 2, n = 16, R = 100", 16, 2, "exhaust", 100, False, "steps",
     [(16, 6), (8, 12), (4, 24), (2, 48), (1, 96)], None),
    ("exhaust, smallest 4, factor 3, n = 5, R = 10", 5, 3, "exhaust", 10, False, "n_samples",
     [(5, 4)], None),
    ("exhaust, smallest 4, factor 3, n = 5, R = 10, aggressive", 5, 3, "exhaust", 10, True,
     "n_samples", [(5, 4), (2, 4)], None),
    ("float_log: exhaust, factor 3, n = 243, R = 1000", 243, 3, "exhaust", 1000, False, "steps",
     [(243, 4), (81, 12), (27, 36), (9, 108), (3, 324), (1, 972)],
     [(243, 12), (81, 36), (27, 108), (9, 324), (3, 972)]),
    ("float_log: factor 3, n = 1000, r = 1, R = 243", 1000, 3, 1, 243, False, "steps",
     [(1000, 1), (334, 3), (112, 9), (38, 27), (13, 81), (5, 243)],
     [(1000, 1), (334, 3), (112, 9), (38, 27), (13, 81)]),
]


def sklearn_schedule(n, factor, min_resources, max_resources, aggressive, resource, random):
    if resource == "n_samples":
        X = np.zeros((max_resources, 1))
        kwargs = {"max_resources": "auto"}
    else:
        X = np.zeros((4, 1))
        kwargs = {"resource": resource, "max_resources": max_resources}
    common = dict(factor=factor, min_resources=min_resources, aggressive_elimination=aggressive,
                  cv=2, refit=False, **kwargs)
    if random:
        search = HalvingRandomSearchCV(Dummy(), {"x": list(range(n))}, n_candidates=n,
                                       random_state=0, **common)
    else:
        search = HalvingGridSearchCV(Dummy(), {"x": list(range(n))}, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X)
    return list(zip(search.n_candidates_, search.n_resources_))


def floor_log(value, base):
    """The largest k with base**k <= value, in integers."""
    k = 0
    while base ** (k + 1) <= value:
        k += 1
    return k


def exact_schedule(n, factor, min_resources, max_resources, aggressive, resource):
    """scikit-learn's rules with exact integer logarithms, as hpt computes them."""
    smallest = 4 if resource == "n_samples" else 1  # 2 * n_splits for a regressor with cv=2
    needed = floor_log(n, factor)
    if min_resources == "exhaust":
        r = max(smallest, max_resources // factor ** needed)
    else:
        r = min_resources
    possible = floor_log(max_resources // r, factor)
    last = needed if aggressive else min(needed, possible)
    rungs, count = [], n
    for i in range(last + 1):
        power = max(0, i - needed + possible) if aggressive else i
        rungs.append((count, r * factor ** power))
        count = -(-count // factor)
    return rungs


def main():
    failures = 0
    for name, n, factor, r, R, aggressive, resource, hpt_rungs, sklearn_rungs in CASES:
        exact = exact_schedule(n, factor, r, R, aggressive, resource)
        if exact != hpt_rungs:
            failures += 1
            print(f"FAIL {name}: the rules with exact logs give {exact}, the test {hpt_rungs}")
        expected = sklearn_rungs if sklearn_rungs is not None else hpt_rungs
        for random in (False, True):
            got = sklearn_schedule(n, factor, r, R, aggressive, resource, random)
            ok = got == expected
            failures += not ok
            kind = "random" if random else "grid"
            print(f"{'ok  ' if ok else 'FAIL'} {name} [{kind}]: scikit-learn {got}")
            if not ok:
                print(f"     expected {expected}")
        if sklearn_rungs is not None:
            print(f"     hpt (exact integer log) {hpt_rungs}")
    print(f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
