"""Semi-discrete OT over the wire: a uniform source on [0, 1] against a
weighted 1-D target (closed form from the quantiles), a Gaussian mixture in
2-D against exact OT (POT's emd2) between a large sample and the target, and
field-named errors."""
import unittest

import numpy as np

import otserve
from server_fixture import Server


class SemiDiscreteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads=2")
        cls.c = otserve.Client(cls.server.address, timeout=300)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.stop()

    def test_uniform_source_matches_the_quantile_formula(self):
        y = np.array([[0.1], [0.5], [0.8]])
        b = np.array([0.2, 0.5, 0.3])
        edges = np.concatenate([[0.0], np.cumsum(b)])
        want = sum(((edges[j + 1] - y[j, 0]) ** 3 - (edges[j] - y[j, 0]) ** 3) / 3
                   for j in range(3))
        r = self.c.semi_discrete({"box": ([0.0], [1.0])}, y, b,
                                 query=[[0.05], [0.5], [0.95]])
        self.assertTrue(r.diagnostics["converged"], r.diagnostics)
        self.assertLess(abs(r.value - want), 4 * r.standard_error + 2e-3 * want,
                        (r.value, r.standard_error, want))
        np.testing.assert_allclose(r.cell_masses, b, atol=1e-2)
        self.assertEqual(list(r.assignment), [0, 1, 2])

    def test_mixture_agrees_with_exact_ot_of_a_large_sample(self):
        import ot
        comps = [([-1.0, 0.0], 0.3 * np.eye(2)), ([1.0, 1.0], 0.2 * np.eye(2))]
        w = [0.6, 0.4]
        y = np.array([[-1, 0], [0, 0], [1, 1], [1, -1], [-2, 1]], dtype=float)
        b = np.array([0.3, 0.2, 0.2, 0.1, 0.2])
        r = self.c.semi_discrete({"mixture": (comps, w)}, y, b, seed=3)
        rng = np.random.default_rng(5)
        pick = rng.choice(2, size=4000, p=w)
        xs = np.stack([rng.multivariate_normal(*comps[k]) for k in pick])
        exact = ot.emd2(np.full(4000, 1 / 4000), b, ot.dist(xs, y))
        self.assertLess(abs(r.value - exact), 0.03 * exact, (r.value, exact))

    def test_errors_name_their_field(self):
        with self.assertRaises(otserve.OTServeError) as e:
            self.c.semi_discrete({"box": ([0.0, 0.0], [1.0, 0.0])}, np.zeros((2, 2)))
        self.assertIn("source.box", str(e.exception))
        with self.assertRaises(otserve.OTServeError) as e:
            self.c.semi_discrete({"box": ([0.0], [1.0])}, np.zeros((2, 1)), batch_size=0)
        self.assertIn("batch_size", str(e.exception))


if __name__ == "__main__":
    unittest.main()
