"""The Python client against a real otserve process: the seed example, the CLI,
errors with field violations, SIGTERM exit status."""
import os, signal, subprocess, tempfile, time, unittest

import numpy as np

import otserve
from server_fixture import Server


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads=2")
        cls.client = otserve.Client(cls.server.address, timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_seed_example(self):
        M = np.array([[0.0, 1.0], [1.0, 0.0]])
        r = self.client.distance(a=[0.5, 0.5], b=[0.2, 0.8], M=M)
        self.assertAlmostEqual(r.value, 0.3, places=15)
        self.assertTrue(r.converged)
        self.assertEqual(r.diagnostics["method"], "exact")
        p = self.client.plan(a=[0.5, 0.5], b=[0.2, 0.8], M=M)
        np.testing.assert_allclose(p.plan, [[0.2, 0.3], [0.0, 0.5]], atol=1e-15)
        self.assertAlmostEqual(0.5 * p.f.sum() + 0.2 * p.g[0] + 0.8 * p.g[1], 0.3, places=12)

    def test_plan_and_distance_report_the_same_distance(self):
        # Issue 10: plan().distance was always 0 (PlanResponse had no distance).
        rng = np.random.default_rng(2)
        x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
        for kw, p in ((dict(method="exact"), 2), (dict(method="sinkhorn"), 2),
                      (dict(method="sinkhorn", cost="power", p=3), 3)):
            d, pl = self.client.distance(x, y, **kw), self.client.plan(x, y, **kw)
            self.assertGreater(pl.distance, 0.0, kw)
            self.assertEqual(pl.distance, d.distance, kw)
            self.assertAlmostEqual(d.distance, d.value ** (1 / p), places=12)
        # The diagnostics say what the stopping rule measured.
        self.assertEqual(d.diagnostics["stopping_rule"], "marginal_error")
        self.assertEqual(d.diagnostics["stopping_value"], d.diagnostics["marginal_error"])

    def test_otctl_prints_the_seed_value(self):
        otctl = os.environ.get("OTCTL_BIN", "build/otctl")
        with tempfile.TemporaryDirectory() as d:
            for name, text in (("a.csv", "0.5\n0.5\n"), ("b.csv", "0.2\n0.8\n"),
                               ("M.csv", "0,1\n1,0\n")):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            base = [otctl, "distance", "--server", self.server.address,
                    "--source-weights", f"{d}/a.csv", "--target-weights", f"{d}/b.csv",
                    "--cost", f"{d}/M.csv"]
            out = subprocess.run(base, capture_output=True, text=True, check=True).stdout
            self.assertEqual(out.splitlines()[0], "0.3")
            out = subprocess.run(base + ["--json"], capture_output=True, text=True,
                                 check=True).stdout
            import json
            j = json.loads(out)
            self.assertEqual(j["value"], 0.3)
            self.assertTrue(j["diagnostics"]["converged"])
            self.assertEqual(j["diagnostics"]["method"], "METHOD_EXACT")
            # plan --out writes a .npy numpy can read.
            plan_path = os.path.join(d, "plan.npy")
            subprocess.run([otctl, "plan", "--server", self.server.address,
                            "--source-weights", f"{d}/a.csv", "--target-weights",
                            f"{d}/b.csv", "--cost", f"{d}/M.csv", "--out", plan_path],
                           capture_output=True, check=True)
            np.testing.assert_allclose(np.load(plan_path), [[0.2, 0.3], [0.0, 0.5]],
                                       atol=1e-15)
            # Point clouds from .npy, and a usage error.
            x = np.random.default_rng(0).normal(size=(20, 2))
            np.save(os.path.join(d, "x.npy"), x)
            np.save(os.path.join(d, "y.npy"), x + 1.0)
            out = subprocess.run([otctl, "distance", "--server", self.server.address,
                                  "--source", f"{d}/x.npy", "--target", f"{d}/y.npy"],
                                 capture_output=True, text=True, check=True).stdout
            self.assertAlmostEqual(float(out.splitlines()[0]), 2.0, places=12)
            bad = subprocess.run([otctl, "distance", "--bogus", "1"], capture_output=True)
            self.assertEqual(bad.returncode, 2)

    def test_errors_name_the_field(self):
        x = np.zeros((3, 2))
        cases = [
            (dict(x=x, y=np.zeros((3, 3))), "target.points"),
            (dict(x=np.array([[0, np.nan], [1, 1], [2, 2]]), y=x), "source.points"),
            (dict(x=x, y=x, a=[1, -1, 1]), "source.weights"),
            (dict(x=x, y=x, b=[0, 0, 0]), "target.weights"),
            (dict(x=x, y=x, a=[1, 1, 1], b=[1, 1, 2]), "target.weights"),
            (dict(x=x, y=x, a=[0.5, 0.5]), "source.weights"),
            (dict(x=x, y=x, method="sinkhorn", epsilon=-1.0), "options.epsilon"),
            (dict(x=x, y=x, method="1d"), "method"),
        ]
        for kwargs, field in cases:
            with self.assertRaises(otserve.OTServeError) as cm:
                self.client.distance(**kwargs)
            self.assertEqual(cm.exception.code.name, "INVALID_ARGUMENT")
            self.assertIn(field, [f for f, _ in cm.exception.field_violations], kwargs)

    def test_float32_inputs(self):
        x = np.random.default_rng(1).normal(size=(30, 3)).astype(np.float32)
        r32 = self.client.distance(x, x + 1)
        r64 = self.client.distance(x.astype(np.float64), x.astype(np.float64) + 1)
        self.assertAlmostEqual(r32.value, r64.value, places=5)

    def test_server_info(self):
        info = self.client.server_info()
        self.assertEqual(info["worker_threads"], 2)
        self.assertIn("METHOD_SINKHORN", info["methods"])


class ShutdownTest(unittest.TestCase):
    def _server_with_an_endless_job(self, *args):
        import threading
        s = Server(*args)
        c = otserve.Client(s.address)
        rng = np.random.default_rng(3)
        x, y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + 1
        t = threading.Thread(target=lambda: self.assertRaises(
            otserve.OTServeError, c.distance, x, y, method="sinkhorn", epsilon=1e-4,
            tol=1e-300, max_iter=10**9, epsilon_scaling=False), daemon=True)
        t.start()
        while c.server_info()["jobs_in_flight"] == 0:
            time.sleep(0.01)
        return s, c, t

    def _signal_and_time_exit(self, drain, signals, expected_exit):
        """Sends SIGTERM `signals` times (0.3 s apart) to a server running an
        endless job; returns seconds from the last signal to the exit."""
        s, c, t = self._server_with_an_endless_job(f"--drain_seconds={drain}")
        for k in range(signals):
            if k:
                time.sleep(0.3)
            start = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(10), expected_exit)
        took = time.monotonic() - start
        t.join(10)
        c.close()
        s.proc.stderr.close()
        return took

    def test_sigterm_exits_within_the_drain_with_a_job_running(self):
        # Issue 10: the process lingered 7 s past the drain.
        self.assertLess(self._signal_and_time_exit(1, 1, 0), 2.0)

    def test_second_signal_exits_at_once(self):
        self.assertLess(self._signal_and_time_exit(60, 2, 1), 1.0)

    def test_sigterm_exits_zero(self):
        s = Server()
        c = otserve.Client(s.address)
        self.assertAlmostEqual(c.distance([[0.0]], [[2.0]]).value, 4.0)
        c.close()
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
