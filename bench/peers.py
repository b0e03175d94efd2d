#!/usr/bin/python3
"""The in-process peers of compare_pot.py's entropic rows, on the same inputs
(compare_pot.clouds): OTT-JAX (CPU, float64, jit-compiled; the timed call is
the second, so compilation is excluded) and GeomLoss (CPU, PyTorch tensorized
backend, float64). Prints one JSON line {"peer", "seconds", "value", "note"}.

Run with an interpreter that has the peer installed (a venv for benchmarks
only, never needed by tests), e.g.:
  /usr/bin/python3 -m venv --system-site-packages /tmp/benv
  /tmp/benv/bin/pip install "jax[cpu]==0.4.30" "ott-jax==0.4.7" geomloss==0.3.1
  /tmp/benv/bin/python bench/peers.py ott sinkhorn_log 1000

Usage: peers.py {ott,geomloss} {sinkhorn_log,sinkhorn_knopp,sinkhorn_divergence} N"""
import json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np

# Absolute epsilon on ||x - y||^2 and the marginal tolerance of each row.
ROWS = {"sinkhorn_log": (0.05, 1e-6), "sinkhorn_knopp": (1.0, 1e-6),
        "sinkhorn_divergence": (1.0, 1e-6)}


def clouds(n, seed=0):  # compare_pot.clouds, without importing its deps
    r = np.random.default_rng(seed)
    return r.normal(size=(n, 3)), r.normal(size=(n, 3)) * 0.8 + 1.0


def ott_run(row, n):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn
    from ott.tools import sinkhorn_divergence
    eps, tol = ROWS[row]
    x, y = (jnp.asarray(a) for a in clouds(n))
    if row == "sinkhorn_divergence":
        @jax.jit
        def solve(x, y):
            out = sinkhorn_divergence.sinkhorn_divergence(
                pointcloud.PointCloud, x, y, epsilon=eps,
                sinkhorn_kwargs={"threshold": tol, "max_iterations": 100000})
            return out.divergence
        note = "S_eps with entropic terms (POT's row: without)"
    else:
        solver = sinkhorn.Sinkhorn(threshold=tol, max_iterations=100000)

        @jax.jit
        def solve(x, y):
            geom = pointcloud.PointCloud(x, y, epsilon=eps)
            out = solver(linear_problem.LinearProblem(geom))
            # <P, C> matrix-free (POT's sinkhorn2 value).
            return out.transport_cost_at_geom(geom)
        note = "<P, C>, threshold on the L1 marginal error"
    jax.block_until_ready(solve(x, y))  # compile
    t = time.perf_counter()
    v = float(jax.block_until_ready(solve(x, y)))
    return time.perf_counter() - t, v, note


def geomloss_run(row, n):
    import torch
    from geomloss import SamplesLoss
    torch.set_num_threads(int(os.environ.get("PEER_THREADS", os.cpu_count())))
    eps, _ = ROWS[row]
    x, y = (torch.from_numpy(a) for a in clouds(n))
    # GeomLoss's p = 2 cost is ||x - y||^2 / 2 with epsilon = blur^2: OT on
    # C with eps equals twice OT on C / 2 with eps / 2.
    blur = (eps / 2) ** 0.5
    debias = row == "sinkhorn_divergence"
    loss = SamplesLoss("sinkhorn", p=2, blur=blur, scaling=0.5, debias=debias,
                       backend="tensorized")
    t = time.perf_counter()
    v = 2 * float(loss(x, y))
    note = ("S_eps with entropic terms (POT's row: without)" if debias else
            "OT_eps (regularised value), fixed epsilon schedule, no tolerance")
    return time.perf_counter() - t, v, note


def main():
    peer, row, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seconds, value, note = (ott_run if peer == "ott" else geomloss_run)(row, n)
    print(json.dumps({"peer": peer, "seconds": round(seconds, 4), "value": value,
                      "note": note}))


if __name__ == "__main__":
    main()
