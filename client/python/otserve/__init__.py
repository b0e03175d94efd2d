"""otserve: Python client for the otserve optimal transport service.

    import numpy as np, otserve
    c = otserve.Client("127.0.0.1:50051")
    r = c.distance(x, y)                  # squared Euclidean, method auto
    r.value, r.diagnostics["converged"]
    p = c.plan(x, y, method="sinkhorn", epsilon=0.05)
    p.plan, p.f, p.g

Names follow POT where they exist: `a`, `b` are weights, `M` an explicit cost matrix,
`reg` / `epsilon` the entropic regularisation, `numItermax` -> `max_iter`.
"""
from .client import (Client, DistanceResult, DivergenceResult, GromovResult, OTServeError,
                     PlanResult, SemiDiscreteResult)

__all__ = ["Client", "DistanceResult", "DivergenceResult", "GromovResult", "OTServeError",
           "PlanResult", "SemiDiscreteResult", "__version__"]
from ._version import __version__  # written at build time from CMake
