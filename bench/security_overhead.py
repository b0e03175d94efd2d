#!/usr/bin/env python3
"""Cost of TLS and token auth on a small call's round trip (issue 11): the seed
example (3 x 2 points, exact) sent N times, one at a time, from the Python client
to a 2-worker server in each configuration; prints the p50 and p90 round trip and
the p50 relative to plaintext, all in one run.

  PYTHONPATH=build/python python3 bench/security_overhead.py [--server_bin build/otserve]
      [--calls 2000]
"""
import argparse, os, sys, tempfile, time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from server_fixture import Server  # noqa: E402
from test_shared_service import make_pki  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server_bin", default="build/otserve")
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    os.environ["OTSERVE_BIN"] = args.server_bin
    import otserve
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([[2.0, 0.0], [0.0, 2.0]])
    with tempfile.TemporaryDirectory() as d:
        p = make_pki(d)
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write("bench-token-0123456789 bench\n")
        tls = [f"--tls_cert={p['server.pem']}", f"--tls_key={p['server.key']}"]
        configs = [
            ("plaintext", [], {}),
            ("plaintext + token", [f"--auth_tokens={tokens}"],
             {"token": "bench-token-0123456789"}),
            ("TLS", tls, {"root_certificates": p["ca.pem"]}),
            ("TLS + token", tls + [f"--auth_tokens={tokens}"],
             {"root_certificates": p["ca.pem"], "token": "bench-token-0123456789"}),
            ("mutual TLS + token",
             tls + [f"--tls_client_ca={p['ca.pem']}", f"--auth_tokens={tokens}"],
             {"root_certificates": p["ca.pem"], "client_cert": p["client.pem"],
              "client_key": p["client.key"], "token": "bench-token-0123456789"}),
        ]
        base = None
        for name, flags, kw in configs:
            server = Server("--threads=2", *flags)
            try:
                with otserve.Client(server.address, **kw) as c:
                    for _ in range(100):  # connect and warm up
                        c.distance(x, y, method="exact")
                    t = np.empty(args.calls)
                    for i in range(args.calls):
                        start = time.perf_counter()
                        c.distance(x, y, method="exact")
                        t[i] = time.perf_counter() - start
            finally:
                server.stop()
            p50, p90 = np.percentile(t, 50) * 1e6, np.percentile(t, 90) * 1e6
            base = base or p50
            print(f"{name:20s} p50 {p50:7.0f} us  p90 {p90:7.0f} us  "
                  f"p50 / plaintext {p50 / base:.2f}", flush=True)


if __name__ == "__main__":
    main()
