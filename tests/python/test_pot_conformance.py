"""Conformance with POT (Debian python3-pot) through the service, on random problems
of several shapes: unequal n and m, non-uniform and zero weights, duplicate points,
large cost values. Tolerances are stated per method."""
import unittest

import numpy as np
import ot

import otserve
from server_fixture import Server

RNG_SEED = 20261122


def weights(rng, n, zeros=0):
    w = rng.uniform(0.1, 1.0, n)
    w[rng.choice(n, zeros, replace=False)] = 0.0
    return w / w.sum()


class PotConformanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.client = otserve.Client(cls.server.address, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def problems(self):
        rng = np.random.default_rng(RNG_SEED)
        for n, m, d, zeros in ((5, 7, 2, 0), (40, 25, 3, 3), (100, 150, 2, 0),
                               (200, 200, 5, 10), (1, 9, 2, 0), (300, 120, 3, 0)):
            x = rng.normal(size=(n, d))
            y = rng.normal(size=(m, d)) * 0.8 + 1.0
            if n > 2 and m > 2:
                y[1] = x[0]  # duplicate support points
                y[2] = x[0]
            yield x, y, weights(rng, n, zeros), weights(rng, m)

    def test_exact_matches_emd2(self):
        for x, y, a, b in self.problems():
            for cost, M in (("sqeuclidean", ot.dist(x, y)),
                            ("euclidean", ot.dist(x, y, metric="euclidean"))):
                expected = ot.emd2(a, b, M, numItermax=10**8)
                r = self.client.plan(x, y, a, b, cost=cost, method="exact")
                self.assertTrue(r.converged)
                self.assertAlmostEqual(r.value, expected, delta=1e-10 * max(1, expected))
                # The plan is a basic optimal solution of the same problem.
                self.assertLessEqual(np.count_nonzero(r.plan), len(a) + len(b) - 1)
                np.testing.assert_allclose(r.plan.sum(1), a, atol=1e-12)
                np.testing.assert_allclose(r.plan.sum(0), b, atol=1e-12)
                self.assertAlmostEqual((r.plan * M).sum(), expected, delta=1e-10 * max(1, expected))
                # Dual feasibility and zero duality gap.
                self.assertLessEqual((r.f[:, None] + r.g[None, :] - M).max(), 1e-9)
                self.assertAlmostEqual(a @ r.f + b @ r.g, expected, delta=1e-9 * max(1, expected))

    def test_exact_large_cost_values(self):
        rng = np.random.default_rng(1)
        x, y = rng.normal(size=(60, 2)), rng.normal(size=(50, 2))
        M = ot.dist(x, y) * 1e7
        a, b = weights(rng, 60), weights(rng, 50)
        expected = ot.emd2(a, b, M, numItermax=10**8)
        r = self.client.distance(a=a, b=b, M=M, method="exact")
        self.assertAlmostEqual(r.value, expected, delta=1e-10 * expected)

    def test_sinkhorn_matches_sinkhorn_log(self):
        for x, y, a, b in self.problems():
            M = ot.dist(x, y)
            for reg in (1.0, 0.1, 0.02):
                P_pot = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=1e-11,
                                    numItermax=200000)
                expected = float((P_pot * M).sum())
                r = self.client.plan(x, y, a, b, method="sinkhorn", epsilon=reg, tol=1e-9,
                                     max_iter=200000)
                self.assertTrue(r.converged, r.diagnostics)
                self.assertAlmostEqual(r.diagnostics["epsilon"], reg)
                self.assertAlmostEqual(r.value, expected, delta=1e-6 * max(1, expected),
                                       msg=f"reg={reg} shape={M.shape}")
                np.testing.assert_allclose(r.plan, P_pot, atol=1e-7)

    def test_one_d_matches_wasserstein_1d(self):
        rng = np.random.default_rng(3)
        for n, m in ((50, 50), (37, 81), (1, 10), (500, 300)):
            u, v = rng.normal(size=n), rng.exponential(size=m)
            a, b = weights(rng, n, zeros=min(3, n - 1)), weights(rng, m)
            for p in (1.0, 1.5, 2.0, 3.0):
                expected = ot.wasserstein_1d(u, v, a, b, p=p)  # W_p^p
                r = self.client.distance(u[:, None], v[:, None], a, b, cost="power", p=p)
                self.assertEqual(r.diagnostics["method"], "1d")
                self.assertAlmostEqual(r.value, expected, delta=1e-10 * max(1, expected))
                # And the same as the exact LP on |x - y|^p.
                M = np.abs(u[:, None] - v[None, :]) ** p
                self.assertAlmostEqual(r.value, ot.emd2(a, b, M), delta=1e-9 * max(1, expected))

    def test_sinkhorn_small_epsilon_tends_to_exact(self):
        rng = np.random.default_rng(4)
        x, y = rng.normal(size=(80, 2)), rng.normal(size=(70, 2)) + 0.5
        exact = self.client.distance(x, y, method="exact").value
        med = np.median(ot.dist(x, y))
        gaps = []
        for rel in (1e-1, 1e-2, 1e-3):
            r = self.client.distance(x, y, method="sinkhorn", epsilon=rel * med, max_iter=100000)
            self.assertTrue(r.converged, r.diagnostics)
            self.assertTrue(np.isfinite(r.value) and np.isfinite(r.regularized_value))
            gaps.append(abs(r.value - exact))
        self.assertLess(gaps[2], gaps[1])
        self.assertLess(gaps[1], gaps[0])
        self.assertLess(gaps[2], 1e-2 * exact)

    def test_non_convergence_is_reported(self):
        rng = np.random.default_rng(5)
        x, y = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
        r = self.client.distance(x, y, method="sinkhorn", epsilon=1e-3, max_iter=5)
        self.assertFalse(r.converged)
        self.assertEqual(r.diagnostics["termination"], "iteration_limit")
        self.assertGreater(r.diagnostics["marginal_error"], 1e-6)
        r = self.client.distance(x, y, method="exact", max_iter=2)
        self.assertFalse(r.converged)
        self.assertEqual(r.diagnostics["termination"], "iteration_limit")


if __name__ == "__main__":
    unittest.main()
