"""The Go example client (client/go) against a live server: the seed example
and a Sinkhorn distance, compared with the Python client's answers. Skipped only
when the build did not produce the Go binary (no Go toolchain)."""
import json, os, subprocess, unittest

import numpy as np

import otserve
from server_fixture import Server

GO_EXAMPLE = os.environ.get("OTSERVE_GO_EXAMPLE", "")
CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "proto", "ot", "v1",
                      "service_config.json")


@unittest.skipUnless(GO_EXAMPLE and os.path.exists(GO_EXAMPLE), "Go example not built")
class GoClientTest(unittest.TestCase):
    def test_go_agrees_with_python(self):
        s = Server("--threads=1")
        try:
            r = subprocess.run([GO_EXAMPLE, "--server", s.address, "--service_config",
                                CONFIG], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            with otserve.Client(s.address) as c:
                sink = c.distance(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
                                  np.array([[2.0, 0.0], [0.0, 2.0]]), method="sinkhorn",
                                  epsilon=0.1, relative_epsilon=False)
        finally:
            s.stop()
        self.assertEqual(out["seed_value"], 0.3)
        self.assertTrue(out["seed_converged"])
        self.assertEqual(out["sinkhorn_method"], "METHOD_SINKHORN")
        self.assertTrue(out["sinkhorn_converged"])
        self.assertEqual(out["sinkhorn_value"], sink.value)


if __name__ == "__main__":
    unittest.main()
