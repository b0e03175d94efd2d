#!/usr/bin/python3
"""otserve vs POT on the reference workloads of shared/bench/pot_baseline.py: the same
inputs (same generators and seeds) go to POT in-process (pot_baseline.py, one
process per run) and to a fresh otserve through the Python client, alternating, in
one run. Prints a table (or, with --json, one JSON object per line) with seconds
(best of --repeat; otserve: in-server solve seconds, and client wall seconds), peak
memory (POT process max RSS; server RSS growth = peak RSS - RSS before the first
call), both values, whether they agree (rel. difference <= --agree) and the ratio
pot_seconds / otserve_seconds (> 1: otserve faster).

Workloads: those of pot_baseline.py, plus batch_emd (n exact 32 x 32 problems: POT's
ot.emd2 in a Python loop vs one DistanceBatch call, both timed as client wall
seconds including building the inputs' requests). sliced passes POT's own
directions, so the values agree.

With --peers PYTHON, the Sinkhorn and divergence rows also time OTT-JAX and
GeomLoss in-process (bench/peers.py under that interpreter, which has them; a
venv for benchmarks only): columns "OTT-JAX s" and "GeomLoss s", and
"vs best peer" = the fastest peer's seconds / otserve's.

Usage: compare_pot.py [--json] [--repeat 3] [--threads N] [--agree 1e-5]
                      [--peers PYTHON] [--precision float64|float32]
                      [WORKLOAD:SIZE ...]
Needs the built Python package on PYTHONPATH (build/python) and build/otserve."""
import argparse, json, os, subprocess, sys, time

import numpy as np
import ot

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
POT_SCRIPT = os.environ.get("POT_BASELINE",
                            os.path.join(ROOT, "..", "shared", "bench", "pot_baseline.py"))
# The sizes of issue 4's target table (a full run takes about ten minutes on 2 cores).
DEFAULT = ["emd:4000", "sinkhorn_log:1000", "sinkhorn_knopp:10000", "sinkhorn_divergence:4000",
           "sliced:100000", "w1d:10000000", "barycenter_bregman:2000",
           "convolutional_barycenter2d:256", "entropic_gw:300", "gw:1000", "batch_emd:10000",
           "free_support_barycenter:100"]


def clouds(n, m, d=3, seed=0):  # the same generator as pot_baseline.py
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)), r.normal(size=(m, d)) * 0.8 + 1.0


def batch_problems(n, size=32):
    r = np.random.default_rng(0)
    return [dict(x=r.normal(size=(size, 3)), y=r.normal(size=(size, 3)) + 1.0)
            for _ in range(n)]


# POT's side of batch_emd (not in pot_baseline.py): ot.emd2 in a Python loop.
BATCH_POT = """
import json, sys, time
import numpy as np, ot
sys.path.insert(0, sys.argv[1])
from compare_pot import batch_problems
ps = batch_problems(int(sys.argv[2]))
t = time.perf_counter()
w = np.full(32, 1 / 32)
v = sum(ot.emd2(w, w, ot.dist(p["x"], p["y"])) for p in ps)
print(json.dumps({"seconds": time.perf_counter() - t, "value": float(v)}))
"""


def ours(client, workload, n, precision="float64"):
    if workload == "emd":
        x, y = clouds(n, n)
        return lambda: client.distance(x, y, method="exact")
    if workload == "sinkhorn_log":
        x, y = clouds(n, n)
        return lambda: client.distance(x, y, method="sinkhorn", epsilon=0.05, tol=1e-6,
                                       max_iter=100000, precision=precision)
    if workload == "sinkhorn_knopp":  # POT's exp-domain Sinkhorn, eps = 1
        x, y = clouds(n, n)
        return lambda: client.distance(x, y, method="sinkhorn", epsilon=1.0, tol=1e-6,
                                       max_iter=100000, precision=precision)
    if workload == "w1d":
        r = np.random.default_rng(0)
        u, v = r.normal(size=n), r.exponential(size=n)
        return lambda: client.distance(u[:, None], v[:, None], cost="sqeuclidean", method="1d")
    if workload == "sliced":  # POT's own 100 directions (seed 0), so values agree
        x, y = clouds(n, n)
        dirs = ot.sliced.get_random_projections(3, 100, seed=0).T
        return lambda: client.distance(x, y, method="sliced", directions=dirs)
    if workload == "batch_emd":  # n exact 32 x 32 problems in one DistanceBatch
        problems = batch_problems(n)

        def run():
            t = time.perf_counter()
            out = client.distance_batch([dict(p, method="exact") for p in problems])
            wall = time.perf_counter() - t
            return _Value(None, float(sum(o.value for o in out)),
                          {"solve_seconds": wall, "iterations": len(out),
                           "converged": all(o.diagnostics["converged"] for o in out)})
        return run
    if workload == "sinkhorn_divergence":  # POT's variant: no entropic terms
        x, y = clouds(n, n)
        return lambda: _Value(client.divergence(x, y, kind="sinkhorn_no_entropy", epsilon=1.0,
                                                tol=1e-6, max_iter=100000,
                                                precision=precision))
    if workload == "barycenter_bregman":
        t = np.linspace(0, 1, n)
        M = ot.dist(t[:, None], t[:, None])
        M /= M.max()
        A = np.stack([ot.datasets.make_1D_gauss(n, m=n * c, s=n / 20)
                      for c in (0.2, 0.4, 0.6, 0.8)], 1)

        def run():
            bar, diag = client.barycenter(A, M, reg=1e-3, tol=1e-8, max_iter=10000)
            return _Value(None, float(bar @ t), diag)
        return run
    if workload == "convolutional_barycenter2d":
        g = np.linspace(0, 1, n)
        X, Y = np.meshgrid(g, g)
        imgs = [np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / 0.01)
                for cx, cy in ((.3, .3), (.7, .3), (.3, .7), (.7, .7))]
        A = np.stack([i / i.sum() for i in imgs])

        def run():
            bar, diag = client.convolutional_barycenter(A, 4e-3, tol=1e-9, max_iter=10000)
            return _Value(None, float(bar.max()), diag)
        return run
    if workload in ("entropic_gw", "gw"):
        x, y = clouds(n, n, seed=1)
        C1, C2 = ot.dist(x, x), ot.dist(y[:, :2], y[:, :2])
        C1 /= C1.max()
        C2 /= C2.max()
        eps = 5e-3 if workload == "entropic_gw" else None
        return lambda: _Value(client.gromov_wasserstein(C1=C1, C2=C2, epsilon=eps, tol=1e-9,
                                                        return_plan=False))
    if workload == "free_support_barycenter":
        r = np.random.default_rng(0)
        meas = [r.normal(size=(n, 2)) + c for c in ((0, 0), (4, 0), (0, 4))]
        X0 = r.normal(size=(n, 2))

        def run():
            X, diag = client.free_support_barycenter(meas, None, X0, max_iter=20)
            return _Value(None, float(X.mean()), diag)
        return run
    raise SystemExit(f"workload {workload} is not served yet")


class _Value:
    """Adapts results without .value/.diagnostics to the timing loop."""

    def __init__(self, result, value=None, diagnostics=None):
        self.value = result.value if result is not None else value
        self.diagnostics = result.diagnostics if result is not None else diagnostics
        self.converged = self.diagnostics["converged"]


# Runs a POT script and then reports the peak RSS of its own address space
# (VmHWM) on stderr: getrusage/wait4 would also count the parent's memory at
# the fork (Linux keeps that high-water mark across exec).
PEAK_WRAPPER = """
import runpy, sys
code, sys.argv = sys.argv[1], sys.argv[2:]
try:
    if code:
        exec(compile(code, "batch_pot", "exec"), {"__name__": "__main__"})
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    with open("/proc/self/status") as f:
        hwm = [l.split()[1] for l in f if l.startswith("VmHWM:")][0]
    sys.stderr.write("VMHWM_KB %s\\n" % hwm)
"""


def pot_run(workload, n):
    """Runs POT's baseline in its own process; returns (result dict, peak RSS MB)."""
    if workload == "batch_emd":
        cmd = [sys.executable, "-c", PEAK_WRAPPER, BATCH_POT, "batch_pot", HERE, str(n)]
    else:
        cmd = [sys.executable, "-c", PEAK_WRAPPER, "", POT_SCRIPT, workload, str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"POT {workload} {n} failed: {proc.stderr[-500:]}")
    kb = [l.split()[1] for l in proc.stderr.splitlines() if l.startswith("VMHWM_KB")]
    return json.loads(proc.stdout.strip().splitlines()[-1]), int(kb[-1]) / 1024.0


PEER_ROWS = ("sinkhorn_log", "sinkhorn_knopp", "sinkhorn_divergence")


def peer_run(python, peer, workload, n):
    """bench/peers.py under `python`: {"seconds", "value", "note"}, or None."""
    proc = subprocess.run([python, os.path.join(HERE, "peers.py"), peer, workload, str(n)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        sys.stderr.write(f"{peer} {workload} {n} failed: {proc.stderr[-300:]}\n")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rss_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="worker threads of the server")
    ap.add_argument("--agree", type=float, default=1e-5,
                    help="relative difference of the values counted as agreement")
    ap.add_argument("--peers", default=None,
                    help="interpreter with jax/ott-jax and geomloss (bench/peers.py)")
    ap.add_argument("--precision", default="float64", choices=("float64", "float32"),
                    help="SolverOptions.precision of the Sinkhorn and divergence rows")
    ap.add_argument("workloads", nargs="*", default=DEFAULT)
    args = ap.parse_args()
    import otserve
    from server_fixture import Server
    os.environ.setdefault("OTSERVE_BIN", os.path.join(ROOT, "build", "otserve"))
    rows = []
    for spec in args.workloads:
        workload, n = spec.split(":")
        n = int(n)
        server = Server(f"--threads={args.threads}")  # fresh, so RSS growth is this job's
        client = otserve.Client(server.address, timeout=3600)
        try:
            client.server_info()
            rss_before = rss_mb(server.proc.pid, "VmRSS")
            call = ours(client, workload, n, args.precision)
            best_pot = best_solve = best_wall = float("inf")
            pot_mem = 0.0
            for _ in range(args.repeat):  # alternate POT and otserve
                pot, mem = pot_run(workload, n)
                best_pot = min(best_pot, pot["seconds"])
                pot_mem = max(pot_mem, mem)
                t = time.perf_counter()
                r = call()
                best_wall = min(best_wall, time.perf_counter() - t)
                # batch_emd: client wall seconds incl. building the requests.
                best_solve = min(best_solve, r.diagnostics["solve_seconds"])
            growth = rss_mb(server.proc.pid, "VmHWM") - rss_before
        finally:
            client.close()
            server.stop()
        value = r.value if workload != "sliced" else r.distance
        rel = abs(value - pot["value"]) / max(abs(pot["value"]), 1e-300)
        rows.append({
            "workload": workload, "size": n, "pot_seconds": best_pot,
            "otserve_seconds": round(best_solve, 4), "otserve_wall_seconds": round(best_wall, 4),
            "ratio": round(best_pot / best_solve, 2), "pot_value": pot["value"],
            "otserve_value": value, "rel_diff": rel, "agree": rel <= args.agree,
            "pot_peak_mb": round(pot_mem, 1), "otserve_rss_growth_mb": round(growth, 1),
            "iterations": r.diagnostics["iterations"], "converged": r.converged,
            "precision": r.diagnostics.get("precision", "float64")})
        if args.peers and workload in PEER_ROWS:
            for peer in ("ott", "geomloss"):
                res = peer_run(args.peers, peer, workload, n)
                rows[-1][peer + "_seconds"] = res["seconds"] if res else None
                rows[-1][peer + "_value"] = res["value"] if res else None
            peers = [rows[-1][p + "_seconds"] for p in ("ott", "geomloss")
                     if rows[-1].get(p + "_seconds")]
            if peers:
                rows[-1]["vs_best_peer"] = round(min(peers) / best_solve, 2)
        if args.json:
            print(json.dumps(rows[-1]), flush=True)
    if not args.json:
        def fmt(v):
            return "" if v is None else f"{v:.4g}"
        print("| workload | size | POT s | otserve s | ratio | POT peak MB | server growth MB"
              " | rel. diff | agree | OTT-JAX s | GeomLoss s | vs best peer |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['workload']} | {r['size']} | {r['pot_seconds']:.4g} | "
                  f"{r['otserve_seconds']:.4g} | {r['ratio']} | {r['pot_peak_mb']} | "
                  f"{r['otserve_rss_growth_mb']} | {r['rel_diff']:.1e} | {r['agree']} | "
                  f"{fmt(r.get('ott_seconds'))} | {fmt(r.get('geomloss_seconds'))} | "
                  f"{r.get('vs_best_peer', '')} |")


if __name__ == "__main__":
    main()
