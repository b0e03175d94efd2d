#!/usr/bin/env python3
"""How soon a worker is free after a job's deadline, per family (issue 10's
target: within 0.1 s). Each job is sized to run for seconds and sent with a
0.3 s deadline to a server with 1 worker; the server's jobs_in_flight is polled
every 2 ms until it reads 0. Prints one line per family: the seconds from the
deadline to the free worker.

  python3 bench/cancel_latency.py [--server_bin build/otserve] [--json] [--only S]
"""
import argparse, json, os, sys, time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from server_fixture import Server  # noqa: E402

DEADLINE = 0.3


def jobs(c, rng):
    x2k = rng.normal(size=(4000, 2)); y2k = rng.normal(size=(4000, 2)) + 1
    yield "exact plan 4000", lambda t: c.plan(x2k, y2k, method="exact", timeout=t)
    yield "sinkhorn 4000 eps 1e-4", lambda t: c.distance(
        x2k, y2k, method="sinkhorn", epsilon=1e-4, tol=1e-300, max_iter=10**9,
        epsilon_scaling=False, timeout=t)
    xs = rng.normal(size=(200000, 3))
    yield "sliced 2e5 x 3, 1e4 dirs", lambda t: c.distance(
        xs, xs + 1, method="sliced", n_projections=10000, timeout=t)
    g = rng.normal(size=(1500, 1000))
    yield "gaussian d=1000", lambda t: c.distance(g, g + 1, method="gaussian", timeout=t)
    g2 = rng.normal(size=(2100, 2048))
    yield "gaussian d=2048", lambda t: c.distance(g2, g2 + 1, method="gaussian", timeout=t)
    x1k = rng.normal(size=(1000, 2)); y1k = rng.normal(size=(1000, 3))
    yield "gw cg 1000", lambda t: c.gromov_wasserstein(x1k, y1k, tol=1e-300, max_iter=10**6,
                                                       timeout=t)
    x2 = rng.normal(size=(2000, 2)); y2 = rng.normal(size=(2000, 3))
    yield "gw entropic 2000", lambda t: c.gromov_wasserstein(x2, y2, epsilon=1e-3,
                                                             timeout=t)
    yield "divergence 4000", lambda t: c.divergence(x2k, y2k, epsilon=1e-4, tol=1e-300,
                                                   max_iter=10**9, timeout=t)
    n = 3000
    s = rng.normal(size=(n, 2))
    H = np.abs(rng.normal(size=(n, 4))); H /= H.sum(0)
    yield "fixed barycenter 3000", lambda t: c.barycenter(H, support=s, reg=1e-3, tol=1e-300,
                                                          max_iter=10**6, timeout=t)
    img = np.abs(rng.normal(size=(3, 512, 512))); img /= img.sum(axis=(1, 2), keepdims=True)
    yield "grid barycenter 512", lambda t: c.convolutional_barycenter(
        img, 1e-3, tol=1e-300, max_iter=10**6, timeout=t)
    q = rng.normal(size=(50000, 2))
    yield "map 5e4 queries", lambda t: c.transport(x2k, y2k, query=q, method="sinkhorn",
                                             epsilon=0.5, timeout=t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server_bin", default="build/otserve")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default="", help="run the families whose name has this")
    args = ap.parse_args()
    os.environ["OTSERVE_BIN"] = args.server_bin
    sys.path.insert(0, os.path.join(os.path.dirname(args.server_bin), "python"))
    import otserve
    server = Server("--threads=1", "--max_cost_entries=400000000")
    c = otserve.Client(server.address)
    rows = []
    try:
        for name, call in jobs(c, np.random.default_rng(0)):
            if args.only not in name:
                continue
            start = time.monotonic()
            try:
                call(DEADLINE)
                outcome = "finished"
            except otserve.OTServeError as e:
                outcome = e.code.name
            deadline = start + DEADLINE
            while c.server_info()["jobs_in_flight"] > 0:
                time.sleep(0.002)
            free = time.monotonic() - deadline
            rows.append({"family": name, "outcome": outcome, "free_after_deadline_s": free})
            if not args.json:
                print(f"{name:28s} {outcome:20s} worker free {free:+.3f} s after the deadline",
                      flush=True)
    finally:
        server.stop()
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
