"""Gradients over the wire (SolverOptions.return_gradients) and otserve.torch:
exact gradients against POT's emd2 differentiated by torch autograd, Sinkhorn
values and divergences against central finite differences of the service's own
values, batched torch calls against single ones."""
import unittest

import numpy as np

import otserve
from server_fixture import Server

try:
    import torch
    import otserve.torch as ott
except ImportError:  # the plain client must work without torch
    torch = None


def central(f, x, h=1e-5):
    """Central differences of f at x, entry by entry (x: float64 array)."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


class GradientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads=2")
        cls.c = otserve.Client(cls.server.address, timeout=120)
        rng = np.random.default_rng(3)
        cls.x, cls.y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2)) + 0.5
        cls.a = rng.uniform(0.5, 1.0, 12)
        cls.a /= cls.a.sum()
        cls.b = rng.uniform(0.5, 1.0, 9)
        cls.b /= cls.b.sum()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.stop()

    def test_exact_matches_pot_emd2_under_torch_autograd(self):
        if torch is None:
            self.skipTest("torch is not installed")
        import ot
        r = self.c.distance(self.x, self.y, self.a, self.b, method="exact",
                            return_gradients=True)
        g = r.gradients
        self.assertEqual((g["of"], g["kind"]), ("value", "subgradient"))
        x = torch.tensor(self.x, requires_grad=True)
        y = torch.tensor(self.y, requires_grad=True)
        a = torch.tensor(self.a, requires_grad=True)
        b = torch.tensor(self.b, requires_grad=True)
        loss = ot.emd2(a, b, ot.dist(x, y))
        loss.backward()
        self.assertAlmostEqual(loss.item(), r.value, places=12)
        np.testing.assert_allclose(g["source_points"], x.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(g["target_points"], y.grad.numpy(), atol=1e-10)
        # Weights: both centred potentials (POT's convention).
        np.testing.assert_allclose(g["source_weights"], a.grad.numpy(), atol=1e-8)
        np.testing.assert_allclose(g["target_weights"], b.grad.numpy(), atol=1e-8)

    def test_sinkhorn_gradients_match_differences_of_the_regularized_value(self):
        kw = dict(method="sinkhorn", epsilon=0.3, tol=1e-12, max_iter=100000)
        r = self.c.distance(self.x, self.y, self.a, self.b, return_gradients=True, **kw)
        self.assertEqual(r.gradients["of"], "regularized_value")
        fd = central(lambda x: self.c.distance(x, self.y, self.a, self.b,
                                               **kw).regularized_value, self.x)
        np.testing.assert_allclose(r.gradients["source_points"], fd, atol=1e-6)
        # Plan returns them too; unsupported methods are UNIMPLEMENTED.
        p = self.c.plan(self.x, self.y, self.a, self.b, return_gradients=True, **kw)
        np.testing.assert_allclose(p.gradients["source_points"],
                                   r.gradients["source_points"], atol=1e-12)
        with self.assertRaises(otserve.OTServeError) as e:
            self.c.distance(self.x, self.y, method="gaussian", return_gradients=True)
        self.assertIn("UNIMPLEMENTED", str(e.exception))

    def test_torch_divergence_backpropagates_the_service_gradients(self):
        if torch is None:
            self.skipTest("torch is not installed")
        kw = dict(epsilon=0.2, tol=1e-12, max_iter=100000)
        for dtype, atol in ((torch.float64, 1e-6), (torch.float32, 1e-4)):
            x = torch.tensor(self.x, dtype=dtype, requires_grad=True)
            y = torch.tensor(self.y, dtype=dtype, requires_grad=True)
            loss = ott.sinkhorn_divergence(self.c, x, y, **kw)
            self.assertEqual(loss.dtype, dtype)
            (3.0 * loss).backward()  # the chain rule scales the gradient
            fd = central(lambda x: self.c.divergence(x, self.y, **kw).value, self.x)
            np.testing.assert_allclose(x.grad.numpy(), 3.0 * fd, atol=3 * atol)
            self.assertEqual(x.grad.dtype, dtype)
        # Weights given: differentiable along the simplex.
        a = torch.tensor(self.a, requires_grad=True)
        x = torch.tensor(self.x)
        ott.sinkhorn_divergence(self.c, x, torch.tensor(self.y), a,
                                torch.tensor(self.b), **kw).backward()
        h = 1e-5
        e = np.zeros_like(self.a)
        e[3], e[0] = h, -h
        fd = (self.c.divergence(self.x, self.y, self.a + e, self.b, **kw).value -
              self.c.divergence(self.x, self.y, self.a - e, self.b, **kw).value) / (2 * h)
        self.assertAlmostEqual(a.grad[3].item() - a.grad[0].item(), fd, places=6)

    def test_torch_batches_equal_single_calls(self):
        if torch is None:
            self.skipTest("torch is not installed")
        rng = np.random.default_rng(4)
        xs = torch.tensor(rng.normal(size=(3, 10, 2)), requires_grad=True)
        ys = torch.tensor(rng.normal(size=(3, 8, 2)) + 1.0)
        values = ott.distance(self.c, xs, ys, method="sinkhorn", epsilon=0.5, tol=1e-10)
        self.assertEqual(tuple(values.shape), (3,))
        (values * torch.tensor([1.0, 2.0, 0.0], dtype=values.dtype)).sum().backward()
        for k, w in enumerate((1.0, 2.0, 0.0)):
            r = self.c.distance(xs[k].detach().numpy(), ys[k].numpy(), method="sinkhorn",
                                epsilon=0.5, tol=1e-10, return_gradients=True)
            self.assertAlmostEqual(values[k].item(), r.regularized_value, places=12)
            np.testing.assert_allclose(xs.grad[k].numpy(),
                                       w * r.gradients["source_points"], atol=1e-12)

    def test_the_plain_client_does_not_import_torch(self):
        import subprocess, sys
        code = "import sys, otserve; print('torch' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, check=True)
        self.assertEqual(out.stdout.strip(), "False")

    def test_batch_items_return_gradients(self):
        items = [dict(x=self.x, y=self.y, method="exact", return_gradients=True),
                 dict(x=self.x, y=self.y, method="exact")]
        r = self.c.distance_batch(items)
        self.assertIsNotNone(r[0].gradients)
        self.assertIsNone(r[1].gradients)
        self.assertEqual(r[0].gradients["source_points"].shape, (12, 2))


if __name__ == "__main__":
    unittest.main()
