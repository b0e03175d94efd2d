#!/usr/bin/env python3
"""Peak server memory under overload (issue 10): many clients send large
Distance requests at once, far beyond the workers; the server's VmRSS is
sampled every 10 ms. Prints the peak RSS against the --max_memory_mb budget and
how the calls ended.

  python3 bench/overload.py [--server_bin build/otserve] [--budget_mb 512]
      [--clients 40] [--points 300000] [--max_queue 64] [--deadline 20]
"""
import argparse, collections, os, sys, threading, time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from server_fixture import Server  # noqa: E402


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server_bin", default="build/otserve")
    ap.add_argument("--budget_mb", type=int, default=512)
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--points", type=int, default=300000)
    ap.add_argument("--max_queue", type=int, default=64)
    ap.add_argument("--deadline", type=float, default=20.0)
    args = ap.parse_args()
    os.environ["OTSERVE_BIN"] = args.server_bin
    sys.path.insert(0, os.path.join(os.path.dirname(args.server_bin), "python"))
    import otserve
    server = Server("--threads=2", f"--max_queue={args.max_queue}",
                    f"--max_memory_mb={args.budget_mb}")
    pid = server.proc.pid
    base = rss_mb(pid)
    rng = np.random.default_rng(0)
    # Sliced on 3-D clouds: memory is the request (2 x points x 3 doubles).
    x = rng.normal(size=(args.points, 3))
    y = rng.normal(size=(args.points, 3)) + 1
    mb = 2 * x.nbytes / 2**20
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.01)

    outcomes = collections.Counter()
    lock = threading.Lock()

    def client():
        c = otserve.Client(server.address)
        try:
            c.distance(x, y, method="sliced", n_projections=200, timeout=args.deadline)
            o = "OK"
        except otserve.OTServeError as e:
            o = e.code.name
        with lock:
            outcomes[o] += 1
        c.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    stop.set()
    sampler.join()
    server.stop()
    print(f"{args.clients} clients x {mb:.1f} MB requests ({args.points} points x 3 "
          f"x 2 float64), 2 workers, max_queue {args.max_queue}, budget "
          f"{args.budget_mb} MB: server RSS {base:.0f} MB idle, peak {peak[0]:.0f} MB; "
          f"outcomes {dict(outcomes)}; {elapsed:.1f} s")


if __name__ == "__main__":
    main()
