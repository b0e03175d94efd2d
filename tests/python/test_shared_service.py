"""A shared server over the wire: TLS (plain and mutual) with throwaway
certificates, bearer tokens (missing, wrong, valid, SIGHUP reload), the
Prometheus endpoint parsed with prometheus_client, and JSON request logs."""
import json, os, signal, subprocess, tempfile, time, unittest, urllib.request

import grpc
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

import otserve
from server_fixture import Server

X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
Y = np.array([[2.0, 0.0], [0.0, 2.0]])


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate,
    and a second CA with a client certificate the first does not trust."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for ca in ("ca", "other_ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                "-days", "2", "-subj", f"/CN=otserve test {ca}", cwd=d)
    for name, ca, ext in (("server", "ca", ["-extfile", "san.ext"]),
                          ("client", "ca", []), ("stranger", "other_ca", [])):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
                f"{ca}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                *ext, cwd=d)
    return {k: os.path.join(d, k) for k in os.listdir(d)}


def refused(client):
    try:
        client.distance(X, Y, method="exact", timeout=5)
    except otserve.OTServeError as e:
        return e.code
    return None


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.pki = make_pki(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_tls_serves_trusting_clients_only(self):
        p = self.pki
        s = Server(f"--tls_cert={p['server.pem']}", f"--tls_key={p['server.key']}")
        try:
            with otserve.Client(s.address, root_certificates=p["ca.pem"]) as c:
                self.assertAlmostEqual(c.distance(X, Y, method="exact").value,
                                       c.distance(X, Y, method="exact").value)
                self.assertGreater(c.distance(X, Y, method="exact").value, 0)
            with otserve.Client(s.address) as plain:
                self.assertEqual(refused(plain), grpc.StatusCode.UNAVAILABLE)
            # TLS with the system's roots: the throwaway CA is not among them.
            with otserve.Client(s.address, tls=True) as untrusting:
                self.assertEqual(refused(untrusting), grpc.StatusCode.UNAVAILABLE)
        finally:
            s.stop()

    def test_mutual_tls_requires_a_client_certificate_from_the_ca(self):
        p = self.pki
        s = Server(f"--tls_cert={p['server.pem']}", f"--tls_key={p['server.key']}",
                   f"--tls_client_ca={p['ca.pem']}")
        try:
            with otserve.Client(s.address, root_certificates=p["ca.pem"],
                                client_cert=p["client.pem"],
                                client_key=p["client.key"]) as c:
                self.assertGreater(c.distance(X, Y, method="exact").value, 0)
            with otserve.Client(s.address, root_certificates=p["ca.pem"]) as anonymous:
                self.assertEqual(refused(anonymous), grpc.StatusCode.UNAVAILABLE)
            with otserve.Client(s.address, root_certificates=p["ca.pem"],
                                client_cert=p["stranger.pem"],
                                client_key=p["stranger.key"]) as stranger:
                self.assertEqual(refused(stranger), grpc.StatusCode.UNAVAILABLE)
        finally:
            s.stop()

    def test_otctl_over_mutual_tls_with_a_token(self):
        p = self.pki
        tokens = os.path.join(self.dir.name, "tokens")
        with open(tokens, "w") as f:
            f.write("tok-otctl-0123456789 ops\n")
        s = Server(f"--tls_cert={p['server.pem']}", f"--tls_key={p['server.key']}",
                   f"--tls_client_ca={p['ca.pem']}", f"--auth_tokens={tokens}")
        try:
            otctl = os.environ.get("OTCTL_BIN", "build/otctl")
            base = [otctl, "info", "--server", s.address, "--tls-ca", p["ca.pem"],
                    "--tls-cert", p["client.pem"], "--tls-key", p["client.key"]]
            ok = subprocess.run(base + ["--token", "tok-otctl-0123456789"],
                                capture_output=True, text=True, timeout=30)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.assertIn("version", ok.stdout.lower())
            bad = subprocess.run(base, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("UNAUTHENTICATED", bad.stderr + bad.stdout)
        finally:
            s.stop()


def health(address):
    """grpc.health.v1.Health/Check without a token: the serialized response."""
    with grpc.insecure_channel(address) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check",
                               request_serializer=lambda _: b"",
                               response_deserializer=lambda b: b)
        return check(None, timeout=5)


class TokenTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.tokens = os.path.join(self.dir.name, "tokens")
        with open(self.tokens, "w") as f:
            f.write("# token tenant weight\nalice-token-0123456 alice\n"
                    "bob-token-0123456789 bob 2\n")
        self.server = Server(f"--auth_tokens={self.tokens}")

    def tearDown(self):
        self.server.stop()
        self.dir.cleanup()

    def test_missing_wrong_and_valid_tokens(self):
        a = self.server.address
        with otserve.Client(a) as none, otserve.Client(a, token="wrong-token-000000000") as wrong, \
                otserve.Client(a, token="alice-token-0123456") as alice:
            self.assertEqual(refused(none), grpc.StatusCode.UNAUTHENTICATED)
            self.assertEqual(refused(wrong), grpc.StatusCode.UNAUTHENTICATED)
            self.assertIsNone(refused(alice))
            with self.assertRaises(otserve.OTServeError) as e:
                none.server_info()
            self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)
            self.assertIn("version", alice.server_info())
            # Streams and batches are guarded too.
            with self.assertRaises(otserve.OTServeError) as e:
                none.divergence(X, Y, epsilon=0.1)
            self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(health(a), b"\x08\x01")  # SERVING, no token needed

    def test_sighup_reloads_the_tokens(self):
        a = self.server.address
        with open(self.tokens, "w") as f:
            f.write("carol-token-01234567 carol\n")
        os.kill(self.server.proc.pid, signal.SIGHUP)
        with otserve.Client(a, token="carol-token-01234567") as carol, \
                otserve.Client(a, token="alice-token-0123456") as alice:
            deadline = time.monotonic() + 10
            while refused(carol) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIsNone(refused(carol))
            self.assertEqual(refused(alice), grpc.StatusCode.UNAUTHENTICATED)
        # A bad file keeps the tokens in force.
        with open(self.tokens, "w") as f:
            f.write("short\n")
        os.kill(self.server.proc.pid, signal.SIGHUP)
        time.sleep(0.3)
        with otserve.Client(a, token="carol-token-01234567") as carol:
            self.assertIsNone(refused(carol))

    def test_environment_supplies_the_token(self):
        os.environ["OTSERVE_TOKEN"] = "bob-token-0123456789"
        try:
            with otserve.Client(self.server.address) as bob:
                self.assertIsNone(refused(bob))
        finally:
            del os.environ["OTSERVE_TOKEN"]


class MetricsAndLogTest(unittest.TestCase):
    def test_scrape_parses_and_counts_calls(self):
        s = Server("--metrics_listen=127.0.0.1:0", "--log_format=json", "--threads=1")
        try:
            with otserve.Client(s.address) as c:
                for _ in range(2):
                    c.distance(X, Y, method="sinkhorn", epsilon=0.1)
                with self.assertRaises(otserve.OTServeError):
                    c.distance(X, np.ones((2, 3)))
                c.distance(X, Y, method="sinkhorn", epsilon=1e-3, max_iter=2)
            text = urllib.request.urlopen(
                f"http://{s.metrics_address}/metrics", timeout=5).read().decode()
        finally:
            log = s.stop_and_read()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        def get(name, **labels):
            return samples[(name, tuple(sorted(labels.items())))]
        self.assertEqual(get("otserve_requests_total", rpc="Distance", method="sinkhorn",
                             code="OK"), 3)
        self.assertEqual(get("otserve_requests_total", rpc="Distance", method="",
                             code="INVALID_ARGUMENT"), 1)
        self.assertEqual(get("otserve_not_converged_total", method="sinkhorn"), 1)
        self.assertEqual(get("otserve_request_duration_seconds_count", rpc="Distance"), 4)
        self.assertEqual(get("otserve_solve_duration_seconds_count", method="sinkhorn"), 3)
        self.assertEqual(get("otserve_tenant_requests_total", tenant="anonymous",
                             code="OK"), 3)
        self.assertGreaterEqual(get("otserve_solver_iterations_total", method="sinkhorn"), 3)
        self.assertEqual(get("otserve_worker_threads"), 1)
        self.assertEqual(get("otserve_jobs_in_flight"), 0)
        self.assertGreater(get("process_resident_memory_bytes"), 1e6)
        self.assertGreater(get("otserve_received_bytes_total"), 0)
        # One JSON line per call, with the shape and no arrays.
        lines = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
        self.assertEqual(len(lines), 4)
        ok = [l for l in lines if l["status"] == "OK"]
        self.assertEqual(len(ok), 3)
        self.assertEqual((ok[0]["n"], ok[0]["m"], ok[0]["d"]), (3, 2, 2))
        self.assertEqual(ok[0]["tenant"], "anonymous")
        self.assertEqual(ok[0]["method"], "sinkhorn")
        self.assertIs(ok[0]["converged"], True)
        self.assertIs(ok[2]["converged"], False)
        bad = [l for l in lines if l["status"] == "INVALID_ARGUMENT"][0]
        self.assertIn("dimension", bad["error"])
        for l in lines:
            self.assertEqual(set(l) - {"error"},
                             {"time", "tenant", "rpc", "method", "n", "m", "d", "status",
                              "queue_seconds", "solve_seconds", "total_seconds",
                              "iterations", "converged", "bytes_in", "bytes_out"})


if __name__ == "__main__":
    unittest.main()
