"""Displacement interpolation (MapRequest.interpolation_times): the exact plan's
interpolant is the Wasserstein geodesic, W2(mu_0, mu_t) = t W2(mu_0, mu_1) and
W2(mu_t, mu_1) = (1 - t) W2(mu_0, mu_1); its ends are the two measures; the
entropic interpolant starts at the source points with their masses."""
import unittest

import numpy as np

import otserve
from server_fixture import Server


class InterpolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads=2")
        cls.c = otserve.Client(cls.server.address, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.stop()

    def w2sq(self, x, a, y, b):
        return self.c.distance(x, y, a, b, method="exact").value

    def test_exact_interpolants_lie_on_the_geodesic(self):
        rng = np.random.default_rng(1)
        for d in (1, 2):
            x, y = rng.normal(size=(25, d)), 2 * rng.normal(size=(18, d)) + 1
            a = rng.uniform(0.2, 1, 25)
            a /= a.sum()
            b = rng.uniform(0.2, 1, 18)
            b /= b.sum()
            total = self.w2sq(x, a, y, b)
            method = "1d" if d == 1 else "exact"
            out = self.c.interpolate(x, y, a, b, times=[0.0, 0.3, 0.75, 1.0],
                                     method=method)
            self.assertEqual([t for t, _, _ in out], [0.0, 0.3, 0.75, 1.0])
            for t, pts, w in out:
                self.assertLessEqual(len(w), 25 + 18 - 1)
                self.assertAlmostEqual(w.sum(), 1.0, places=12)
                self.assertAlmostEqual(self.w2sq(x, a, pts, w), t * t * total,
                                       delta=1e-9 * total)
                self.assertAlmostEqual(self.w2sq(pts, w, y, b),
                                       (1 - t) ** 2 * total, delta=1e-9 * total)

    def test_entropic_interpolant_starts_at_the_source(self):
        rng = np.random.default_rng(2)
        x, y = rng.normal(size=(20, 2)), rng.normal(size=(15, 2)) + 1
        out = self.c.interpolate(x, y, times=[0.0, 1.0], method="sinkhorn",
                                 epsilon=0.05, tol=1e-10)
        (_, p0, w0), (_, p1, w1) = out
        np.testing.assert_allclose(p0, x, atol=1e-12)
        np.testing.assert_allclose(w0, np.full(20, 1 / 20), atol=1e-9)
        bary = self.c.transport(x, y, method="sinkhorn", epsilon=0.05, tol=1e-10)
        np.testing.assert_allclose(p1, bary, atol=1e-12)

    def test_bad_times_are_refused(self):
        x = np.zeros((3, 2))
        for times in ([1.5], [float("nan")]):
            with self.assertRaises(otserve.OTServeError) as e:
                self.c.interpolate(x, x + 1, times=times)
            self.assertIn("interpolation_times", str(e.exception))


if __name__ == "__main__":
    unittest.main()
