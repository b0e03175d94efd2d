#!/usr/bin/python3
"""otserve vs POT on the reference workloads of shared/bench/pot_baseline.py, same
inputs, same machine, one run. Prints one JSON line per workload with both values,
POT's seconds, otserve's in-server solve seconds and client wall seconds (best of
--repeat), and the ratio pot_seconds / otserve_solve_seconds (> 1: otserve faster).

Usage: side_by_side.py [--server HOST:PORT] [--repeat 3] [WORKLOAD:SIZE ...]
Needs the built Python package on PYTHONPATH (build/python); without --server it
starts build/otserve on a free loopback port."""
import argparse, json, os, subprocess, sys, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
POT_SCRIPT = os.environ.get("POT_BASELINE",
                            os.path.join(ROOT, "..", "shared", "bench", "pot_baseline.py"))
DEFAULT = ["emd:500", "emd:1000", "emd:2000", "sinkhorn_log:500", "sinkhorn_log:1000",
           "w1d:100000", "w1d:1000000"]


def clouds(n, m, d=3, seed=0):  # the same generator as pot_baseline.py
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)), r.normal(size=(m, d)) * 0.8 + 1.0


def ours(client, workload, n):
    if workload == "emd":
        x, y = clouds(n, n)
        return lambda: client.distance(x, y, method="exact")
    if workload == "sinkhorn_log":
        x, y = clouds(n, n)
        return lambda: client.distance(x, y, method="sinkhorn", epsilon=0.05, tol=1e-6,
                                       max_iter=100000)
    if workload == "w1d":
        r = np.random.default_rng(0)
        u, v = r.normal(size=n), r.exponential(size=n)
        return lambda: client.distance(u[:, None], v[:, None], cost="sqeuclidean", method="1d")
    raise SystemExit(f"workload {workload} is not served yet")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("workloads", nargs="*", default=DEFAULT)
    args = ap.parse_args()
    import otserve
    server = None
    if not args.server:
        from server_fixture import Server
        os.environ.setdefault("OTSERVE_BIN", os.path.join(ROOT, "build", "otserve"))
        server = Server("--threads=1")
        args.server = server.address
    client = otserve.Client(args.server, timeout=3600)
    try:
        for spec in args.workloads:
            workload, n = spec.split(":")
            n = int(n)
            pot = json.loads(subprocess.run([sys.executable, POT_SCRIPT, workload, str(n)],
                                            capture_output=True, text=True,
                                            check=True).stdout)
            call = ours(client, workload, n)
            best_solve = best_wall = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = call()
                best_wall = min(best_wall, time.perf_counter() - t)
                best_solve = min(best_solve, r.diagnostics["solve_seconds"])
            print(json.dumps({
                "workload": workload, "size": n,
                "pot_value": pot["value"], "otserve_value": r.value,
                "rel_diff": abs(r.value - pot["value"]) / max(abs(pot["value"]), 1e-300),
                "pot_seconds": pot["seconds"], "otserve_solve_seconds": round(best_solve, 4),
                "otserve_wall_seconds": round(best_wall, 4),
                "ratio_pot_over_otserve": round(pot["seconds"] / best_solve, 2),
                "iterations": r.diagnostics["iterations"], "converged": r.converged}),
                flush=True)
    finally:
        client.close()
        if server:
            server.stop()


if __name__ == "__main__":
    main()
