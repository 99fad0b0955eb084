"""PolyBench/C 4.2.1 datamining: correlation, covariance.

The kernels are the C kernels' loop nests as written, ``float_n`` a scalar parameter,
correlation's ``eps`` a local and its guard against a near-zero deviation a conditional
expression (``a if c else b``), as in C.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .common import PolyBench, f64, grid

M, N = uk.sizes("M N")


@uk.kernel
def correlation(float_n: T, data: T[N, M], corr: T[M, M], mean: T[M], stddev: T[M]):
    """The M x M correlation matrix of the N observations (rows) of data; data is centred
    and reduced in place."""
    eps = 0.1
    for j in range(M):
        mean[j] = 0.0
        for i in range(N):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for j in range(M):
        stddev[j] = 0.0
        for i in range(N):
            stddev[j] += (data[i, j] - mean[j]) * (data[i, j] - mean[j])
        stddev[j] /= float_n
        stddev[j] = uk.sqrt(stddev[j])
        stddev[j] = 1.0 if stddev[j] <= eps else stddev[j]
    for i in range(N):
        for j in range(M):
            data[i, j] -= mean[j]
            data[i, j] /= uk.sqrt(float_n) * stddev[j]
    for i in range(M - 1):
        corr[i, i] = 1.0
        for j in range(i + 1, M):
            corr[i, j] = 0.0
            for k in range(N):
                corr[i, j] += data[k, i] * data[k, j]
            corr[j, i] = corr[i, j]
    corr[M - 1, M - 1] = 1.0


def correlation_init(s, dtype):
    """correlation's init_array: data[i, j] = i j / M + i, float_n = N (corr, mean, stddev
    start at 0)."""
    m, n = s["M"], s["N"]
    i, j = grid(n, m)
    data = i * j / m + i
    return [float(n)] + [a.astype(dtype) for a in (data, np.zeros((m, m)), np.zeros(m), np.zeros(m))]


def correlation_ref(float_n, data, corr, mean, stddev):
    """Column means and deviations with numpy, the correlations as one product."""
    (data,) = f64(data)
    mu = data.mean(axis=0)
    sd = np.sqrt(((data - mu) ** 2).mean(axis=0))
    sd = np.where(sd <= 0.1, 1.0, sd)
    x = (data - mu) / (np.sqrt(float_n) * sd)
    c = x.T @ x
    np.fill_diagonal(c, 1.0)
    return {"mean": mu, "stddev": sd, "data": x, "corr": c}


@uk.kernel
def covariance(float_n: T, data: T[N, M], cov: T[M, M], mean: T[M]):
    """The M x M covariance matrix of the N observations (rows) of data; data is centred in
    place."""
    for j in range(M):
        mean[j] = 0.0
        for i in range(N):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for i in range(N):
        for j in range(M):
            data[i, j] -= mean[j]
    for i in range(M):
        for j in range(i, M):
            cov[i, j] = 0.0
            for k in range(N):
                cov[i, j] += data[k, i] * data[k, j]
            cov[i, j] /= float_n - 1.0
            cov[j, i] = cov[i, j]


def covariance_init(s, dtype):
    """covariance's init_array: data[i, j] = i j / M, float_n = N (cov and mean start at 0)."""
    m, n = s["M"], s["N"]
    i, j = grid(n, m)
    return [float(n)] + [a.astype(dtype) for a in (i * j / m, np.zeros((m, m)), np.zeros(m))]


def covariance_ref(float_n, data, cov, mean):
    """numpy's covariance of the columns."""
    (data,) = f64(data)
    mu = data.mean(axis=0)
    return {"mean": mu, "data": data - mu, "cov": np.cov(data, rowvar=False)}


_MN = {"SMALL": {"M": 80, "N": 100}, "MEDIUM": {"M": 240, "N": 260}}
KERNELS = {
    "correlation": PolyBench(correlation, correlation_ref, correlation_init, _MN),
    "covariance": PolyBench(covariance, covariance_ref, covariance_init, _MN),
}
