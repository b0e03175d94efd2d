"""Issue-3 families through the service from Python, against POT, closed forms and
invariants: sliced / max-sliced, Gaussian (W2, Monge map, barycenter), unbalanced
Sinkhorn, Sinkhorn divergences and MMDs, batches, streamed progress."""
import threading, unittest

import numpy as np
import ot
import scipy.linalg

import otserve
from server_fixture import Server


def weights(rng, n, zeros=0):
    w = rng.uniform(0.1, 1.0, n)
    w[rng.choice(n, zeros, replace=False)] = 0.0
    return w / w.sum()


def bures_w2(m1, s1, m2, s2):  # independent reference with scipy's sqrtm
    h = scipy.linalg.sqrtm(s1)
    cross = np.real(scipy.linalg.sqrtm(h @ s2 @ h))
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.5 * np.eye(d)


class FamiliesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--threads=2")
        cls.c = otserve.Client(cls.server.address, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.stop()

    # ---- sliced ----
    def test_sliced_matches_pot_with_the_same_directions(self):
        rng = np.random.default_rng(0)
        for n, m, d in ((100, 80, 3), (57, 200, 5), (1, 30, 2)):
            x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5
            a, b = weights(rng, n, min(2, n - 1)), weights(rng, m)
            for p in (1.0, 2.0, 3.0):
                proj = ot.sliced.get_random_projections(d, 40, seed=1)  # [d, L]
                kw = dict(cost="power", p=p, directions=proj.T)
                r = self.c.distance(x, y, a, b, method="sliced", **kw)
                ref = ot.sliced_wasserstein_distance(x, y, a, b, n_projections=40, p=p, seed=1)
                self.assertAlmostEqual(r.distance, ref, delta=1e-10 * max(1, ref))
                self.assertAlmostEqual(r.value, ref ** p, delta=1e-9 * max(1, ref ** p))
                r = self.c.distance(x, y, a, b, method="max_sliced", **kw)
                ref = ot.max_sliced_wasserstein_distance(x, y, a, b, n_projections=40, p=p,
                                                         seed=1)
                self.assertAlmostEqual(r.distance, ref, delta=1e-10 * max(1, ref))

    def test_sliced_random_directions_are_seeded(self):
        rng = np.random.default_rng(1)
        x, y = rng.normal(size=(50, 4)), rng.normal(size=(60, 4))
        r1 = self.c.distance(x, y, method="sliced", n_projections=30, seed=7)
        r2 = self.c.distance(x, y, method="sliced", n_projections=30, seed=7)
        r3 = self.c.distance(x, y, method="sliced", n_projections=30, seed=8)
        self.assertEqual(r1.value, r2.value)
        self.assertNotEqual(r1.value, r3.value)
        self.assertEqual(r1.diagnostics["iterations"], 30)
        # SW_2 <= W_2 (projections are 1-Lipschitz).
        self.assertLessEqual(r1.value, self.c.distance(x, y, method="exact").value + 1e-12)

    # ---- Gaussian ----
    def test_gaussian_w2_closed_form_and_commuting_case(self):
        rng = np.random.default_rng(2)
        for d in (1, 2, 5):
            m1, m2 = rng.normal(size=d), rng.normal(size=d)
            s1, s2 = random_spd(rng, d), random_spd(rng, d)
            r = self.c.distance(source_gaussian=(m1, s1), target_gaussian=(m2, s2),
                                method="gaussian")
            self.assertAlmostEqual(r.value, bures_w2(m1, s1, m2, s2), delta=1e-8)
            self.assertAlmostEqual(r.distance, np.sqrt(r.value), delta=1e-12)
        # Commuting (diagonal) covariances: W2^2 = |m1-m2|^2 + sum (sqrt s1 - sqrt s2)^2.
        v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 2.0])
        r = self.c.distance(source_gaussian=(np.zeros(3), np.diag(v1)),
                            target_gaussian=(np.ones(3), np.diag(v2)), method="gaussian")
        self.assertAlmostEqual(r.value, 3 + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2), delta=1e-12)

    def test_gaussian_fitted_from_weighted_samples_and_monge_map(self):
        rng = np.random.default_rng(3)
        x, y = rng.normal(size=(300, 3)) @ random_spd(rng, 3), rng.normal(size=(200, 3)) + 2
        a = weights(rng, 300)
        r = self.c.plan(x, y, a, method="gaussian")
        m1 = a @ x
        s1 = np.cov(x.T, aweights=a, bias=True)
        m2, s2 = y.mean(0), np.cov(y.T, bias=True)
        self.assertAlmostEqual(r.value, bures_w2(m1, s1, m2, s2), delta=1e-8)
        A, b = r.linear_map
        np.testing.assert_allclose(A, A.T, atol=1e-12)
        np.testing.assert_allclose(A @ s1 @ A.T, s2, atol=1e-8)  # pushes S1 to S2
        np.testing.assert_allclose(A @ m1 + b, m2, atol=1e-10)
        self.assertGreater(np.linalg.eigvalsh(A).min(), 0)  # a gradient of a convex map

    def test_gaussian_barycenter(self):
        rng = np.random.default_rng(4)
        # Commuting case: sqrt of the barycenter covariance = weighted mean of sqrts.
        v = [np.array([1.0, 4.0]), np.array([9.0, 16.0]), np.array([0.25, 1.0])]
        w = np.array([0.2, 0.5, 0.3])
        mean, cov, diag = self.c.gaussian_barycenter(
            [(rng.normal(size=2), np.diag(vi)) for vi in v], w)
        np.testing.assert_allclose(np.diag(cov), (w @ np.sqrt(np.array(v))) ** 2, rtol=1e-9)
        self.assertTrue(diag["converged"])
        # General case: the fixed point S = sum_k w_k (S^1/2 S_k S^1/2)^1/2.
        gs = [(rng.normal(size=3), random_spd(rng, 3)) for _ in range(4)]
        mean, cov, diag = self.c.gaussian_barycenter(gs)
        h = np.real(scipy.linalg.sqrtm(cov))
        fixed = sum(np.real(scipy.linalg.sqrtm(h @ s @ h)) for _, s in gs) / 4
        np.testing.assert_allclose(fixed, cov, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(mean, np.mean([m for m, _ in gs], 0), atol=1e-12)
        # One input: the barycenter is that input.
        mean, cov, _ = self.c.gaussian_barycenter([gs[0]])
        np.testing.assert_allclose(cov, gs[0][1], rtol=1e-10)

    # ---- fixed-support barycenter ----
    def test_fixed_support_barycenter_matches_pot(self):
        n = 60
        t = np.linspace(0, 1, n)
        M = ot.dist(t[:, None], t[:, None])
        M /= M.max()
        A = np.stack([ot.datasets.make_1D_gauss(n, m=n * c, s=n / 15) for c in (0.25, 0.5, 0.8)], 1)
        A /= A.sum(0)
        for reg, w in ((1e-2, None), (3e-3, np.array([0.2, 0.3, 0.5]))):
            ref = ot.bregman.barycenter(A, M, reg, weights=w, method="sinkhorn_log",
                                        numItermax=100000, stopThr=1e-12)
            bar, diag = self.c.barycenter(A, M, reg=reg, weights=w, tol=1e-10, max_iter=100000)
            self.assertTrue(diag["converged"], diag)
            np.testing.assert_allclose(bar, ref, atol=1e-8)
            self.assertAlmostEqual(bar.sum(), 1.0, delta=1e-8)
        # The same through support points and a cost kind (M from the server).
        # (t in [0, 1], so the squared-Euclidean cost of the support is M itself.)
        bar2, _ = self.c.barycenter(A, support=t[:, None], reg=1e-2, tol=1e-10, max_iter=100000)
        ref = ot.bregman.barycenter(A, M, 1e-2, method="sinkhorn_log", numItermax=100000,
                                    stopThr=1e-12)
        np.testing.assert_allclose(bar2, ref, atol=1e-8)
        # One input: the barycenter is (close to) that input when reg is small.
        one, _ = self.c.barycenter(A[:, :1], M, reg=1e-3, tol=1e-10, max_iter=100000)
        self.assertLess(np.abs(one - A[:, 0]).sum(), 0.05)

    def test_debiased_fixed_support_barycenter_matches_pot(self):
        n = 50
        t = np.linspace(0, 1, n)
        M = ot.dist(t[:, None], t[:, None])
        A = np.stack([ot.datasets.make_1D_gauss(n, m=n * c, s=n / 12) for c in (0.3, 0.7)], 1)
        A /= A.sum(0)
        ref = ot.bregman.barycenter_debiased(A, M, 5e-3, method="sinkhorn_log",
                                             numItermax=100000, stopThr=1e-12)
        bar, diag = self.c.barycenter(A, M, reg=5e-3, debiased=True, tol=1e-8, max_iter=100000)
        self.assertTrue(diag["converged"], diag)
        # Neither iteration settles tighter: POT's own result moves by 3e-5 between
        # stopThr 1e-12 and 1e-14 on this problem.
        np.testing.assert_allclose(bar, ref, atol=2e-4)
        self.assertAlmostEqual(bar.sum(), 1.0, delta=1e-6)
        # Debiasing sharpens: the plain barycenter is more spread out.
        plain, _ = self.c.barycenter(A, M, reg=5e-3, tol=1e-10, max_iter=100000)
        var = lambda h: h @ t ** 2 - (h @ t) ** 2
        self.assertLess(var(bar), var(plain))

    def test_fixed_support_barycenter_errors(self):
        M = np.ones((3, 3))
        self.assertField("measures[1].weights", self.c.barycenter,
                         np.array([[0.5, 0.5], [0.5, 0.25], [0.0, 0.0]]), M, reg=0.1)
        self.assertField("support", self.c.barycenter, np.full((3, 1), 1 / 3), None,
                         support=np.full((3, 2), np.inf), reg=0.1)
        self.assertField("options.epsilon", self.c.barycenter, np.full((3, 1), 1 / 3), M,
                         reg=-1.0)

    # ---- grid (convolutional) barycenters ----
    def test_convolutional_barycenter_2d_matches_pot(self):
        g = np.linspace(0, 1, 32)
        X, Y = np.meshgrid(g, g)
        imgs = [np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / 0.01)
                for cx, cy in ((.3, .3), (.7, .3), (.3, .7), (.7, .7))]
        A = np.stack([i / i.sum() for i in imgs])
        for reg, w in ((4e-3, None), (1e-2, np.array([0.1, 0.2, 0.3, 0.4]))):
            ref = ot.bregman.convolutional_barycenter2d(A, reg, weights=w, method="sinkhorn_log",
                                                        numItermax=10000, stopThr=1e-13)
            bar, diag = self.c.convolutional_barycenter(A, reg, weights=w, tol=1e-11)
            self.assertTrue(diag["converged"], diag)
            self.assertEqual(bar.shape, (32, 32))
            np.testing.assert_allclose(bar, ref, atol=1e-12)
            self.assertNotIn("log domain", diag["message"])  # the exp-domain path

    def test_convolutional_barycenter_falls_back_to_the_log_domain(self):
        # Far-apart sharp blobs: the exp-domain kernel products underflow, the
        # solve restarts in the log domain and says so, and still matches POT.
        g = np.linspace(0, 1, 32)
        X, Y = np.meshgrid(g, g)
        imgs = [np.exp(-((X - c) ** 2 + (Y - c) ** 2) / 1e-3) for c in (0.1, 0.9)]
        A = np.stack([i / i.sum() for i in imgs])
        for reg in (1e-3, 1e-4):
            ref = ot.bregman.convolutional_barycenter2d(A, reg, method="sinkhorn_log",
                                                        numItermax=3000, stopThr=1e-12)
            bar, diag = self.c.convolutional_barycenter(A, reg, tol=1e-10)
            self.assertTrue(diag["converged"], diag)
            self.assertIn("log domain", diag["message"])
            np.testing.assert_allclose(bar, ref, atol=1e-10)

    def test_convolutional_barycenter_3d_is_centred_between_translated_blobs(self):
        g = np.linspace(0, 1, 12)
        X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
        blobs = [np.exp(-((X - cx) ** 2 + (Y - 0.5) ** 2 + (Z - 0.5) ** 2) / 0.01)
                 for cx in (0.25, 0.75)]
        A = np.stack([b / b.sum() for b in blobs])
        bar, diag = self.c.convolutional_barycenter(A, 5e-3, tol=1e-10)
        self.assertTrue(diag["converged"], diag)
        self.assertEqual(bar.shape, (12, 12, 12))
        self.assertAlmostEqual(bar.sum(), 1.0, delta=1e-8)
        self.assertAlmostEqual(float((bar * X).sum()), 0.5, delta=1e-6)  # symmetric inputs
        # The barycenter's mass concentrates between the blobs, not on them.
        self.assertGreater(bar[5:7].sum(), bar[:3].sum() + bar[9:].sum())

    def test_grid_barycenter_errors(self):
        img = np.full((4, 4), 1 / 16)
        self.assertField("measures[0].weights.shape", self.c.convolutional_barycenter,
                         np.full((1, 16), 1 / 16), 0.01)
        self.assertField("options.epsilon", self.c.convolutional_barycenter, [img], -1.0)
        self.assertField("measures[0].weights", self.c.convolutional_barycenter, [img * 2], 0.01)

    # ---- Gromov-Wasserstein ----
    def gw_problem(self, n=30, seed=1):
        rng = np.random.default_rng(seed)
        x, y = rng.normal(size=(n, 3)), rng.normal(size=(n + 5, 3)) * 0.8 + 1
        C1, C2 = ot.dist(x, x), ot.dist(y[:, :2], y[:, :2])  # 3-D vs 2-D
        return x, y, C1 / C1.max(), C2 / C2.max(), ot.unif(n), ot.unif(n + 5)

    def test_entropic_gw_matches_pot(self):
        x, y, C1, C2, p, q = self.gw_problem()
        for loss, pot_loss in (("square", "square_loss"), ("kl", "kl_loss")):
            eps = 5e-2
            T = ot.gromov.entropic_gromov_wasserstein(C1 + 1e-3, C2 + 1e-3, p, q, pot_loss, eps,
                                                      max_iter=1000, tol=1e-10)
            r = self.c.gromov_wasserstein(C1=C1 + 1e-3, C2=C2 + 1e-3, p=p, q=q, loss=loss,
                                          epsilon=eps, tol=1e-10)
            self.assertTrue(r.diagnostics["converged"], r.diagnostics)
            np.testing.assert_allclose(r.plan, T, atol=1e-8, err_msg=loss)
            constC, hC1, hC2 = ot.gromov.init_matrix(C1 + 1e-3, C2 + 1e-3, p, q, pot_loss)
            self.assertAlmostEqual(r.value, float(ot.gromov.gwloss(constC, hC1, hC2, T)),
                                   delta=1e-8)

    def test_gromov_stream_reports_outer_steps(self):
        x, y, C1, C2, p, q = self.gw_problem()
        events = []
        kw = dict(C1=C1, C2=C2, p=p, q=q, epsilon=5e-2, tol=1e-9)
        streamed = self.c.gromov_wasserstein(**kw, on_progress=events.append)
        plain = self.c.gromov_wasserstein(**kw)
        self.assertEqual(streamed.value, plain.value)
        np.testing.assert_array_equal(streamed.plan, plain.plan)
        its = [e["iteration"] for e in events]
        self.assertGreater(len(its), 0)
        self.assertEqual(its, sorted(its))  # coalesced, never out of order
        self.assertLessEqual(its[-1], streamed.diagnostics["iterations"])
        self.assertTrue(all(e["epsilon"] == 5e-2 and e["error"] >= 0 for e in events))

        class Stop(Exception):
            pass

        def stop(_):
            raise Stop()
        with self.assertRaises(Stop):
            self.c.gromov_wasserstein(**kw, on_progress=stop)

    def test_conditional_gradient_and_fused_match_pot(self):
        x, y, C1, C2, p, q = self.gw_problem(seed=2)
        T = ot.gromov.gromov_wasserstein(C1, C2, p, q, "square_loss")
        r = self.c.gromov_wasserstein(C1=C1, C2=C2, p=p, q=q)
        self.assertAlmostEqual(r.value, ot.gromov.gromov_wasserstein2(C1, C2, p, q, "square_loss"),
                               delta=1e-10)
        np.testing.assert_allclose(r.plan, T, atol=1e-10)
        M = ot.dist(x, y)
        M /= M.max()
        for alpha in (0.2, 0.5):
            ref = ot.gromov.fused_gromov_wasserstein2(M, C1, C2, p, q, "square_loss", alpha=alpha)
            r = self.c.gromov_wasserstein(C1=C1, C2=C2, p=p, q=q, alpha=alpha, M=M)
            self.assertAlmostEqual(r.value, ref, delta=1e-10)

    def test_gw_between_isometric_clouds_of_different_dimension_is_zero(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=(12, 2))
        R = np.linalg.qr(rng.normal(size=(4, 4)))[0]
        y = (np.hstack([x, np.zeros((12, 2))]) @ R + 3.0)[rng.permutation(12)]
        r = self.c.gromov_wasserstein(x, y, cost="euclidean")
        self.assertAlmostEqual(r.value, 0.0, delta=1e-10)
        np.testing.assert_allclose(r.plan.sum(1), np.full(12, 1 / 12), atol=1e-14)
        self.assertEqual(np.count_nonzero(r.plan > 1e-12), 12)  # a permutation

    def test_gw_errors(self):
        x = np.zeros((4, 2))
        self.assertField("options.epsilon", self.c.gromov_wasserstein, x, x, method="entropic")
        self.assertField("loss", self.c.gromov_wasserstein, x, x, loss="kl")
        self.assertField("feature_cost", self.c.gromov_wasserstein, x, x, alpha=0.5)
        self.assertField("source_costs", self.c.gromov_wasserstein, C1=np.ones((3, 2)), C2=np.ones((2, 2)))
        self.assertField("alpha", self.c.gromov_wasserstein, x, x, alpha=2.0, M=np.ones((4, 4)))

    # ---- maps ----
    def test_barycentric_projection_matches_pot_plans(self):
        rng = np.random.default_rng(15)
        x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + 1
        a, b = weights(rng, 40), weights(rng, 30)
        P = ot.emd(a, b, ot.dist(x, y))
        np.testing.assert_allclose(self.c.transport(x, y, a, b, method="exact"),
                                   (P @ y) / a[:, None], atol=1e-12)
        P = ot.sinkhorn(a, b, ot.dist(x, y), 0.5, method="sinkhorn_log", stopThr=1e-12,
                        numItermax=100000)
        mapped = self.c.transport(x, y, a, b, method="sinkhorn", epsilon=0.5, tol=1e-10)
        np.testing.assert_allclose(mapped, (P @ y) / P.sum(1)[:, None], atol=1e-7)
        # The entropic map at the source points is the barycentric projection.
        at_x = self.c.transport(x, y, a, b, method="sinkhorn", epsilon=0.5, tol=1e-10, query=x)
        np.testing.assert_allclose(at_x, mapped, atol=1e-12)

    def test_entropic_map_approaches_the_gaussian_monge_map(self):
        rng = np.random.default_rng(16)
        L = np.array([[1.0, 0.0], [0.6, 0.5]])
        x = rng.normal(size=(400, 2))
        y = rng.normal(size=(400, 2)) @ L.T + np.array([2.0, -1.0])
        A, b = self.c.plan(x, y, method="gaussian").linear_map
        query = rng.normal(size=(50, 2)) * 0.5
        mapped = self.c.transport(x, y, query=query, method="sinkhorn", epsilon=0.05,
                                  max_iter=100000)
        err = np.abs(mapped - (query @ A.T + b)).mean()
        self.assertLess(err, 0.1)  # sampling + entropic bias, not exactness
        # And the map is computed from the potentials exactly as documented.
        r = self.c.plan(x, y, method="sinkhorn", epsilon=0.05, max_iter=100000)
        eps = r.diagnostics["epsilon"]
        logits = np.log(1 / 400) + (r.g[None, :] - ot.dist(query, y)) / eps
        w = np.exp(logits - logits.max(1, keepdims=True))
        np.testing.assert_allclose(mapped, (w @ y) / w.sum(1, keepdims=True), atol=1e-9)

    def test_map_errors(self):
        x = np.zeros((4, 2))
        self.assertField("method", self.c.transport, x, x, method="exact", query=x)
        self.assertField("query_points", self.c.transport, x, x, query=np.zeros((2, 3)))
        self.assertField("cost.kind", self.c.transport, x, x, cost="euclidean", query=x)

    # ---- unbalanced ----
    def test_unbalanced_matches_pot_after_the_entropy_reference_conversion(self):
        rng = np.random.default_rng(5)
        for n, m, mass_b in ((40, 30, 2.0), (25, 60, 0.5), (50, 50, 1.0)):
            x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 0.5
            a, b = weights(rng, n), weights(rng, m) * mass_b
            M = ot.dist(x, y)
            for reg, reg_m in ((0.5, 1.0), (0.1, 5.0)):
                r = self.c.plan(x, y, a, b, method="unbalanced", epsilon=reg, reg_m=reg_m,
                                tol=1e-12, max_iter=100000, epsilon_scaling=False)
                self.assertTrue(r.converged, r.diagnostics)
                Mp = M - reg * (np.log(a)[:, None] + np.log(b)[None, :])
                P = ot.unbalanced.sinkhorn_unbalanced(a, b, Mp, reg, reg_m,
                                                      numItermax=200000, stopThr=1e-14)
                np.testing.assert_allclose(r.plan, P, atol=1e-8, rtol=1e-6)
                self.assertAlmostEqual(r.value, float((P * M).sum()), delta=1e-7)

    def test_unbalanced_tends_to_balanced_for_large_lambda(self):
        rng = np.random.default_rng(6)
        x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
        bal = self.c.distance(x, y, method="sinkhorn", epsilon=0.1)
        unb = self.c.distance(x, y, method="unbalanced", epsilon=0.1, reg_m=1e6, tol=1e-10,
                              max_iter=100000)
        self.assertAlmostEqual(unb.value, bal.value, delta=1e-4 * bal.value)

    # ---- divergences ----
    def test_sinkhorn_divergence_terms_match_pot_plans(self):
        rng = np.random.default_rng(7)
        x, y = rng.normal(size=(60, 2)), rng.normal(size=(45, 2)) + 1
        a, b = weights(rng, 60), weights(rng, 45)
        eps = 0.5

        def ot_eps(p, q, M):  # <P, C> + eps KL(P | p q^T) from POT's plan
            P = ot.sinkhorn(p, q, M, eps, method="sinkhorn_log", stopThr=1e-12,
                            numItermax=100000)
            Q = np.outer(p, q)
            nz = P > 0
            kl = np.sum(P[nz] * np.log(P[nz] / Q[nz])) - P.sum() + Q.sum()
            return float((P * M).sum() + eps * kl), float((P * M).sum())

        r = self.c.divergence(x, y, a, b, epsilon=eps, tol=1e-10, max_iter=100000)
        self.assertTrue(r.diagnostics["converged"])
        cross, cross_lin = ot_eps(a, b, ot.dist(x, y))
        self_a, self_a_lin = ot_eps(a, a, ot.dist(x, x))
        self_b, self_b_lin = ot_eps(b, b, ot.dist(y, y))
        self.assertAlmostEqual(r.cross_term, cross, delta=1e-7)
        self.assertAlmostEqual(r.source_self_term, self_a, delta=1e-7)
        self.assertAlmostEqual(r.target_self_term, self_b, delta=1e-7)
        self.assertAlmostEqual(r.value, cross - 0.5 * self_a - 0.5 * self_b, delta=1e-7)
        # POT's variant (no entropic terms).
        r2 = self.c.divergence(x, y, a, b, kind="sinkhorn_no_entropy", epsilon=eps, tol=1e-10,
                               max_iter=100000)
        ref = ot.bregman.empirical_sinkhorn_divergence(x, y, eps, a, b, stopThr=1e-12,
                                                       numIterMax=100000)
        self.assertAlmostEqual(r2.value, float(ref), delta=1e-6)
        self.assertAlmostEqual(r2.value, cross_lin - 0.5 * self_a_lin - 0.5 * self_b_lin,
                               delta=1e-7)

    def test_divergence_invariants(self):
        rng = np.random.default_rng(8)
        x, y = rng.normal(size=(40, 3)), rng.normal(size=(50, 3)) * 0.7 + 0.3
        for kind in ("sinkhorn", "energy", "gaussian", "laplacian"):
            s_xx = self.c.divergence(x, x, kind=kind, epsilon=1.0, tol=1e-10, max_iter=100000)
            self.assertTrue(s_xx.diagnostics["converged"], s_xx.diagnostics)
            self.assertAlmostEqual(s_xx.value, 0.0, delta=1e-8, msg=kind)
            s_xy = self.c.divergence(x, y, kind=kind, epsilon=1.0, tol=1e-10, max_iter=100000)
            s_yx = self.c.divergence(y, x, kind=kind, epsilon=1.0, tol=1e-10, max_iter=100000)
            self.assertAlmostEqual(s_xy.value, s_yx.value, delta=1e-7, msg=kind)
            self.assertGreater(s_xy.value, 0.0, msg=kind)

    def test_unbalanced_sinkhorn_divergence(self):
        rng = np.random.default_rng(18)
        x, y = rng.normal(size=(30, 2)), rng.normal(size=(25, 2)) + 0.5
        a, b = weights(rng, 30), 1.5 * weights(rng, 25)
        kw = dict(epsilon=0.5, reg_m=2.0, tol=1e-11, max_iter=100000)
        s_aa = self.c.divergence(x, x, a, a, **kw)
        self.assertTrue(s_aa.diagnostics["converged"], s_aa.diagnostics)
        self.assertAlmostEqual(s_aa.value, 0.0, delta=1e-9)
        s_ab = self.c.divergence(x, y, a, b, **kw)
        s_ba = self.c.divergence(y, x, b, a, **kw)
        self.assertAlmostEqual(s_ab.value, s_ba.value, delta=1e-8)
        self.assertGreater(s_ab.value, 0.0)
        # Same support, different masses: still > 0.
        self.assertGreater(self.c.divergence(x, x, a, 2 * a, **kw).value, 0.0)
        # The cross term is the unbalanced OT_eps of the Distance RPC.
        r = self.c.distance(x, y, a, b, method="unbalanced", epsilon=0.5, reg_m=2.0,
                            tol=1e-11, max_iter=100000)
        self.assertAlmostEqual(s_ab.cross_term, r.regularized_value, delta=1e-8)
        # lambda -> infinity with equal masses: the balanced divergence.
        bal = self.c.divergence(x, y, a, b / 1.5, epsilon=0.5, tol=1e-11, max_iter=100000)
        big = self.c.divergence(x, y, a, b / 1.5, epsilon=0.5, reg_m=1e7, tol=1e-11,
                                max_iter=100000)
        self.assertAlmostEqual(big.value, bal.value, delta=1e-4)
        self.assertField("options.marginal_relaxation", self.c.divergence, x, y,
                         kind="energy", reg_m=1.0)

    def test_mmd_matches_the_kernel_formula(self):
        rng = np.random.default_rng(9)
        x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2)) + 1
        a, b = weights(rng, 30), weights(rng, 20)
        dxx, dyy, dxy = (ot.dist(x, x, "euclidean"), ot.dist(y, y, "euclidean"),
                         ot.dist(x, y, "euclidean"))
        for kind, k in (("energy", lambda d: -d),
                        ("gaussian", lambda d: np.exp(-d ** 2 / (2 * 0.7 ** 2))),
                        ("laplacian", lambda d: np.exp(-d / 0.7))):
            ref = 0.5 * a @ k(dxx) @ a + 0.5 * b @ k(dyy) @ b - a @ k(dxy) @ b
            r = self.c.divergence(x, y, a, b, kind=kind, blur=0.7)
            self.assertAlmostEqual(r.value, ref, delta=1e-12, msg=kind)

    # ---- batches ----
    def test_batch_results_in_order_with_a_bad_item(self):
        rng = np.random.default_rng(10)
        problems = []
        for k in range(12):
            x, y = rng.normal(size=(10 + k, 2)), rng.normal(size=(8 + k, 2))
            problems.append(dict(x=x, y=y, method="exact" if k % 2 else "sinkhorn",
                                 epsilon=0.2))
        problems.insert(5, dict(x=np.zeros((3, 2)), y=np.zeros((3, 3))))
        results = self.c.distance_batch(problems)
        self.assertEqual(len(results), 13)
        self.assertIsInstance(results[5], otserve.OTServeError)
        self.assertEqual(results[5].code.name, "INVALID_ARGUMENT")
        self.assertIn("target.points", [f for f, _ in results[5].field_violations])
        for k, (kw, r) in enumerate(zip(problems, results)):
            if k == 5:
                continue
            single = self.c.distance(**kw)
            self.assertEqual(r.value, single.value)

    # ---- streaming ----
    def test_stream_reports_progress_then_the_result(self):
        rng = np.random.default_rng(11)
        x, y = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 1
        events = []
        r = self.c.distance_stream(x, y, method="sinkhorn", epsilon=0.05,
                                   on_progress=events.append)
        self.assertTrue(r.converged)
        self.assertGreater(len(events), 0)
        its = [e["iteration"] for e in events]
        self.assertEqual(its, sorted(its))
        self.assertLessEqual(its[-1], r.diagnostics["iterations"])
        self.assertEqual(r.value, self.c.distance(x, y, method="sinkhorn", epsilon=0.05).value)

    def test_cancelling_the_stream_stops_the_job(self):
        rng = np.random.default_rng(12)
        x, y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 1

        class Stop(Exception):
            pass

        def stop(_):
            raise Stop()

        with self.assertRaises(Stop):
            self.c.distance_stream(x, y, method="sinkhorn", epsilon=1e-4, tol=1e-15,
                                   max_iter=10**9, epsilon_scaling=False, on_progress=stop)
        for _ in range(200):  # the worker frees up
            if self.c.server_info()["jobs_in_flight"] == 0:
                break
            threading.Event().wait(0.05)
        self.assertEqual(self.c.server_info()["jobs_in_flight"], 0)

    # ---- malformed requests for each new job type ----
    def assertField(self, field, fn, *args, **kw):
        with self.assertRaises(otserve.OTServeError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code.name, "INVALID_ARGUMENT", cm.exception)
        self.assertIn(field, [f for f, _ in cm.exception.field_violations], cm.exception)

    def test_malformed_requests_name_the_field(self):
        x = np.random.default_rng(13).normal(size=(5, 2))
        c = self.c
        self.assertField("options.marginal_relaxation", c.distance, x, x, method="unbalanced")
        self.assertField("options.marginal_relaxation", c.distance, x, x, method="unbalanced",
                         reg_m=-1.0)
        self.assertField("options.num_directions", c.distance, x, x, method="sliced",
                         n_projections=0)
        self.assertField("options.directions", c.distance, x, x, method="sliced",
                         directions=np.ones((4, 3)))
        self.assertField("source.gaussian", c.distance, x, x, method="exact",
                         source_gaussian=(np.zeros(2), np.eye(2)))
        self.assertField("target.gaussian.covariance", c.distance, method="gaussian",
                         source_gaussian=(np.zeros(2), np.eye(2)),
                         target_gaussian=(np.zeros(2), -np.eye(2)))
        self.assertField("cost.kind", c.distance, x, x, method="gaussian", cost="euclidean")
        self.assertField("method", c.plan, x, x, method="sliced")
        self.assertField("method", c.plan, x, x, method="max_sliced")
        self.assertField("blur", c.divergence, x, x, kind="gaussian", blur=-1.0)
        self.assertField("target.points", c.divergence, x, np.zeros((3, 3)))
        self.assertField("source.weights", c.divergence, x, x, a=-np.ones(5))
        self.assertField("weights", c.gaussian_barycenter,
                         [(np.zeros(2), np.eye(2))] * 2, weights=[1.0, -1.0])
        self.assertField("measures[1].gaussian.covariance", c.gaussian_barycenter,
                         [(np.zeros(2), np.eye(2)), (np.zeros(2), np.ones((2, 2)) * [1, -1])])
        self.assertField("measures[0].points", c.gaussian_barycenter, [np.full((3, 2), np.nan)])
        self.assertField("target.points", c.distance_stream, x, np.zeros((3, 3)))

    def test_otctl_runs_each_new_family(self):
        import os, subprocess, tempfile
        otctl = os.environ.get("OTCTL_BIN", "build/otctl")
        rng = np.random.default_rng(14)
        x, y, z = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + 1, rng.normal(size=(20, 2))
        with tempfile.TemporaryDirectory() as d:
            for name, arr in (("x", x), ("y", y), ("z", z)):
                np.save(f"{d}/{name}.npy", arr)

            def run(*args):
                out = subprocess.run([otctl, args[0], "--server", self.server.address, *args[1:]],
                                     capture_output=True, text=True, check=True)
                return out.stdout.splitlines()

            src = ["--source", f"{d}/x.npy", "--target", f"{d}/y.npy"]
            for method, kw in (("sliced", dict(method="sliced", n_projections=20, seed=2)),
                               ("max-sliced", dict(method="max_sliced", n_projections=20, seed=2)),
                               ("gaussian", dict(method="gaussian")),
                               ("unbalanced", dict(method="unbalanced", reg_m=2.0, epsilon=0.3))):
                extra = {"sliced": ["--num-directions", "20", "--seed", "2"],
                         "max-sliced": ["--num-directions", "20", "--seed", "2"],
                         "gaussian": [], "unbalanced": ["--reg-m", "2", "--epsilon", "0.3"]}[method]
                out = run("distance", *src, "--method", method, *extra)
                self.assertEqual(float(out[0]), self.c.distance(x, y, **kw).value, method)
            out = run("divergence", *src, "--kind", "energy")
            self.assertEqual(float(out[0]), self.c.divergence(x, y, kind="energy").value)
            out = run("distance", *src, "--method", "sinkhorn", "--epsilon", "0.5", "--progress")
            self.assertEqual(float(out[0]), self.c.distance(x, y, method="sinkhorn", epsilon=0.5).value)
            out = run("batch", "--source", f"{d}/x.npy", "--targets", f"{d}/y.npy,{d}/z.npy")
            self.assertEqual([float(v) for v in out],
                             [self.c.distance(x, t).value for t in (y, z)])
            np.save(f"{d}/y3.npy", np.hstack([y, y[:, :1] ** 2]))  # a 3-D space
            out = run("gromov", "--source", f"{d}/x.npy", "--target", f"{d}/y3.npy",
                      "--epsilon", "0.5", "--out", f"{d}/T.npy")
            r = self.c.gromov_wasserstein(x, np.load(f"{d}/y3.npy"), epsilon=0.5)
            self.assertEqual(float(out[0]), r.value)
            np.testing.assert_array_equal(np.load(f"{d}/T.npy"), r.plan)
            # Fixed-support, grid and free-support barycenters and maps, via .npy files.
            n = 20
            t = np.linspace(0, 1, n)
            M = ot.dist(t[:, None], t[:, None])
            H = np.stack([ot.datasets.make_1D_gauss(n, m=n * c, s=n / 10) for c in (0.3, 0.7)], 1)
            H /= H.sum(0)
            np.save(f"{d}/h0.npy", H[:, 0])
            np.save(f"{d}/h1.npy", H[:, 1])
            np.save(f"{d}/M.npy", M)
            run("barycenter", "--kind", "fixed", "--inputs", f"{d}/h0.npy,{d}/h1.npy",
                "--cost", f"{d}/M.npy", "--epsilon", "0.01", "--out", f"{d}/fb.npy")
            ref, _ = self.c.barycenter(H, M, reg=0.01)
            np.testing.assert_array_equal(np.load(f"{d}/fb.npy")[:, 0], ref)
            img = np.outer(H[:, 0], H[:, 1])
            np.save(f"{d}/im.npy", img)
            run("barycenter", "--kind", "grid", "--inputs", f"{d}/im.npy,{d}/im.npy",
                "--epsilon", "0.01", "--out", f"{d}/gb.npy")
            ref, _ = self.c.convolutional_barycenter(np.stack([img, img]), 0.01)
            np.testing.assert_array_equal(np.load(f"{d}/gb.npy"), ref)
            np.save(f"{d}/x0.npy", x[:5])
            run("barycenter", "--kind", "free", "--inputs", f"{d}/y.npy,{d}/z.npy",
                "--support", f"{d}/x0.npy", "--out", f"{d}/free.npy")
            ref, _ = self.c.free_support_barycenter([y, z], None, x[:5])
            np.testing.assert_array_equal(np.load(f"{d}/free.npy"), ref)
            run("map", *src, "--method", "exact", "--out", f"{d}/m.npy")
            np.testing.assert_array_equal(np.load(f"{d}/m.npy"),
                                          self.c.transport(x, y, method="exact"))
            run("map", *src, "--query", f"{d}/z.npy", "--method", "sinkhorn", "--epsilon", "0.5",
                "--out", f"{d}/q.npy")
            np.testing.assert_array_equal(
                np.load(f"{d}/q.npy"), self.c.transport(x, y, query=z, method="sinkhorn", epsilon=0.5))
            out = run("barycenter", "--inputs", f"{d}/x.npy,{d}/y.npy,{d}/z.npy", "--json")
            import json
            cov = json.loads(out[0])["gaussian"]["covariance"]
            _, ref, _ = self.c.gaussian_barycenter([x, y, z])
            got = np.frombuffer(__import__("base64").b64decode(cov["data"]), "<f8").reshape(2, 2)
            np.testing.assert_allclose(got, ref, rtol=1e-12)

    def test_free_support_barycenter_matches_pot(self):
        rng = np.random.default_rng(17)
        n = 40
        meas = [rng.normal(size=(n, 2)) + c for c in ((0, 0), (4, 0), (0, 4))]
        ws = [weights(rng, n) for _ in meas]
        X0 = rng.normal(size=(n, 2))
        for lam in (None, np.array([0.5, 0.3, 0.2])):
            ref = ot.lp.free_support_barycenter(meas, ws, X0, weights=lam, numItermax=50)
            X, diag = self.c.free_support_barycenter(meas, ws, X0, weights=lam, max_iter=50)
            np.testing.assert_allclose(X, ref, atol=1e-9)
        # Entropic inner solves stay close to the exact ones at small epsilon.
        # Entropic inner solves keep the weighted mean: the mean of the means.
        Xe, diag = self.c.free_support_barycenter(meas, ws, X0, epsilon=1.0, max_iter=20)
        mean_of_means = np.mean([w @ m for m, w in zip(meas, ws)], 0)
        np.testing.assert_allclose(Xe.mean(0), mean_of_means, atol=1e-6)
        self.assertField("support", self.c.free_support_barycenter, meas, ws,
                         np.full((3, 2), np.nan))
        self.assertField("measures[0].points", self.c.free_support_barycenter, meas, ws,
                         np.zeros((3, 3)))


if __name__ == "__main__":
    unittest.main()
