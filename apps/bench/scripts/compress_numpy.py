#!/usr/bin/env python3
"""The peer of `tensorized-bench speed compress`: the same conversions in NumPy (float64), the way a
NumPy user writes them (np.linalg.svd, a Khatri-Rao MTTKRP, pinv), on matrices of the same sizes.
Run with one thread (OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1); prints one JSON line per case."""
import json
import sys
import time

import numpy as np


def tt_matrix(w, inm, outm, caps):
    d = len(inm)
    order = [i for k in range(d) for i in (k, d + k)]
    t = w.reshape(inm + outm).transpose(order).reshape([n * m for n, m in zip(inm, outm)])
    rest, r, cores = t, 1, []
    for k in range(d - 1):
        a = rest.reshape(r * t.shape[k], -1)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        rk = min(caps[k], len(s))
        cores.append(u[:, :rk])
        rest, r = s[:rk, None] * vt[:rk], rk
    return cores


def unfold(x, k):
    return np.moveaxis(x, k, 0).reshape(x.shape[k], -1)


def khatri_rao(mats):
    out = mats[0]
    for m in mats[1:]:
        out = (out[:, None, :] * m[None, :, :]).reshape(-1, out.shape[1])
    return out


def cp_als(x, rank, sweeps):
    d = x.ndim
    factors = []
    for k in range(d):
        u, _, _ = np.linalg.svd(unfold(x, k), full_matrices=False)
        a = np.random.default_rng(0).standard_normal((x.shape[k], rank))
        a[:, : min(rank, u.shape[1])] = u[:, : min(rank, u.shape[1])]
        factors.append(a)
    for _ in range(sweeps):
        for k in range(d):
            others = [factors[j] for j in range(d) if j != k]
            gram = np.ones((rank, rank))
            for f in others:
                gram *= f.T @ f
            factors[k] = unfold(x, k) @ khatri_rao(others) @ np.linalg.pinv(gram)
    return factors


def hooi(x, ranks, sweeps):
    factors = [np.linalg.svd(unfold(x, k), full_matrices=False)[0][:, :r] for k, r in enumerate(ranks)]
    for _ in range(sweeps):
        for k in range(x.ndim):
            y = x
            for j in range(x.ndim):
                if j != k:
                    y = np.moveaxis(np.tensordot(y, factors[j], axes=([j], [0])), -1, j)
            factors[k] = np.linalg.svd(unfold(y, k), full_matrices=False)[0][:, : ranks[k]]
    return factors


def main():
    rng = np.random.default_rng(1)
    outm = [8, 4, 4, 12]
    for name, n, inm in [("W 256 x 1536", 256, [4, 4, 4, 4]), ("U 512 x 1536", 512, [8, 4, 4, 4])]:
        w = rng.standard_normal((n, 1536))
        x = w.reshape(inm + outm)
        cases = [
            ("tt ranks 1,8,8,8,1", lambda: tt_matrix(w, inm, outm, [8, 8, 8])),
            ("tt full (no cap)", lambda: tt_matrix(w, inm, outm, [10**9] * 3)),
            ("cp R 50, 20 sweeps", lambda: cp_als(x, 50, 20)),
            ("tucker 2,4,2,4 / 2,4,2,4, 10 sweeps", lambda: hooi(x, [2, 4, 2, 4, 2, 4, 2, 4], 10)),
        ]
        for case, fn in cases:
            best = float("inf")
            for _ in range(2):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            print(json.dumps({"matrix": name, "case": case, "seconds": best}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
