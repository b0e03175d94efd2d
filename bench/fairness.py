#!/usr/bin/env python3
"""Fairness between tenants (issue 11): a server with 2 workers and a token file;
tenant "flood" sends jobs from 10 threads back to back (10x the rate of the quiet
tenant), tenant "quiet" sends one job at a time with a pause. Runs twice: both
tenants with their own tokens (fair scheduling), then both with the same token
(one tenant: what FIFO alone gives). Prints each tenant's share of the worker
seconds and the quiet tenant's latency percentiles.

  python3 bench/fairness.py [--server_bin build/otserve] [--seconds 10]
"""
import argparse, os, sys, tempfile, threading, time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from server_fixture import Server  # noqa: E402


def run(otserve, address, flood_token, quiet_token, seconds, x, y):
    stop = time.monotonic() + seconds
    solve = {"flood": 0.0, "quiet": 0.0}
    done = {"flood": 0, "quiet": 0}
    refused = {"flood": 0, "quiet": 0}
    quiet_latency = []
    lock = threading.Lock()

    def worker(name, token, pause):
        with otserve.Client(address, token=token) as c:
            while time.monotonic() < stop:
                t = time.monotonic()
                try:
                    r = c.distance(x, y, method="exact", timeout=30)
                except otserve.OTServeError:
                    with lock:
                        refused[name] += 1
                    time.sleep(0.01)
                    continue
                with lock:
                    solve[name] += r.diagnostics["solve_seconds"]
                    done[name] += 1
                    if name == "quiet":
                        quiet_latency.append(time.monotonic() - t)
                if pause:
                    time.sleep(pause)

    threads = [threading.Thread(target=worker, args=("flood", flood_token, 0))
               for _ in range(10)]
    threads.append(threading.Thread(target=worker, args=("quiet", quiet_token, 0.05)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(solve.values())
    lat = np.array(quiet_latency) if quiet_latency else np.array([np.nan])
    return {"share_flood": solve["flood"] / total, "share_quiet": solve["quiet"] / total,
            "done": done, "refused": refused,
            "quiet_p50": float(np.percentile(lat, 50)),
            "quiet_p95": float(np.percentile(lat, 95))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server_bin", default="build/otserve")
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    os.environ["OTSERVE_BIN"] = args.server_bin
    sys.path.insert(0, os.path.join(os.path.dirname(args.server_bin), "python"))
    import otserve
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1
    with tempfile.NamedTemporaryFile("w", suffix=".tokens") as f:
        f.write("flood-token-0123456789 flood\nquiet-token-0123456789 quiet\n")
        f.flush()
        for label, quiet_token in (("two tenants (fair)", "quiet-token-0123456789"),
                                   ("one tenant (FIFO)", "flood-token-0123456789")):
            server = Server("--threads=2", "--max_queue=16", f"--auth_tokens={f.name}",
                            "--tenant_max_jobs=16")
            try:
                r = run(otserve, server.address, "flood-token-0123456789", quiet_token,
                        args.seconds, x, y)
            finally:
                server.stop()
            print(f"{label:20s} worker share flood {r['share_flood']:.1%} quiet "
                  f"{r['share_quiet']:.1%}; jobs done {r['done']}, refused "
                  f"{r['refused']}; quiet latency p50 {r['quiet_p50'] * 1e3:.1f} ms "
                  f"p95 {r['quiet_p95'] * 1e3:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
