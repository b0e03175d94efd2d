"""Random malformed and edge-case requests to every RPC: the server must answer each
with OK or INVALID_ARGUMENT (never crash, never UNKNOWN / INTERNAL). Seeded and
bounded (600 requests)."""
import random, unittest

import grpc
import numpy as np

import otserve
from otserve._proto.ot.v1 import service_pb2 as S, types_pb2 as T
from server_fixture import Server

ALLOWED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED}


class Fuzzer:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.r = random.Random(seed)

    def arr(self):
        r = self.r
        shape = [int(v) for v in self.rng.integers(0, 5, size=r.choice([0, 1, 2, 3]))]
        n = int(np.prod(shape)) if shape else 0
        vals = self.rng.normal(size=n)
        if n and r.random() < 0.2:
            vals[self.rng.integers(n)] = r.choice([np.nan, np.inf, -1e300])
        dt = r.choice([T.DTYPE_FLOAT64, T.DTYPE_FLOAT32, T.DTYPE_UNSPECIFIED, 7])
        a = T.Array(shape=shape, dtype=dt)
        raw = vals.astype("<f4" if dt == T.DTYPE_FLOAT32 else "<f8").tobytes()
        mode = r.choice(["data", "values", "both", "none", "short"])
        if mode in ("data", "both"):
            a.data = raw
        if mode in ("values", "both"):
            a.values.extend(vals)
        if mode == "short":
            a.data = raw[:-1]
        return a

    def measure(self):
        m, r = T.Measure(), self.r
        if r.random() < 0.8:
            m.points.CopyFrom(self.arr())
        if r.random() < 0.5:
            m.weights.CopyFrom(self.arr())
        if r.random() < 0.1:
            m.gaussian.mean.CopyFrom(self.arr())
            m.gaussian.covariance.CopyFrom(self.arr())
        return m

    def options(self):
        o, r = T.SolverOptions(), self.r
        if r.random() < 0.5:
            o.epsilon = r.choice([0.1, -1, 0, 1e-300, float("nan"), 5.0])
        if r.random() < 0.3:
            o.tolerance = r.choice([1e-6, 0, 2, float("nan")])
        if r.random() < 0.3:
            o.max_iterations = r.choice([1, 0, -5, 100])
        if r.random() < 0.2:
            o.marginal_relaxation = r.choice([1.0, -1, 0, float("inf")])
        if r.random() < 0.2:
            o.num_directions = r.choice([1, 0, 10])
        if r.random() < 0.2:
            o.directions.CopyFrom(self.arr())
        o.epsilon_scale = r.choice([0, 1, 2, 9])
        return o

    def cost(self):
        c = T.Cost(kind=self.r.choice([0, 1, 2, 3, 4, 9]),
                   p=self.r.choice([0, 1, 2.5, -1, float("nan")]))
        if self.r.random() < 0.5:
            c.matrix.CopyFrom(self.arr())
        return c


class FuzzTest(unittest.TestCase):
    def test_random_requests_never_break_the_server(self):
        server = Server("--threads=2", "--max_cost_entries=4000000")
        client = otserve.Client(server.address)
        stub, f = client._stub, Fuzzer(20261122)
        counts = {}
        try:
            for _ in range(600):
                kind = f.r.choice(["dist", "plan", "div", "bar", "gw", "map", "batch", "stream"])
                try:
                    if kind in ("dist", "plan", "stream", "map"):
                        req_type = {"dist": S.DistanceRequest, "plan": S.PlanRequest,
                                    "stream": S.DistanceRequest, "map": S.MapRequest}[kind]
                        r = req_type(source=f.measure(), target=f.measure(), cost=f.cost(),
                                     method=f.r.choice(range(10)), options=f.options())
                        if kind == "plan":
                            r.format = f.r.choice([0, 1, 2, 5])
                        if kind == "map" and f.r.random() < 0.5:
                            r.query_points.CopyFrom(f.arr())
                        if kind == "stream":
                            list(stub.DistanceStream(r, timeout=30))
                        else:
                            rpc = {"dist": stub.Distance, "plan": stub.Plan, "map": stub.Map}[kind]
                            rpc(r, timeout=30)
                    elif kind == "div":
                        r = S.DivergenceRequest(source=f.measure(), target=f.measure(),
                                                cost=f.cost(), kind=f.r.choice(range(7)),
                                                options=f.options())
                        if f.r.random() < 0.3:
                            r.blur = f.r.choice([1.0, -1, 0])
                        stub.Divergence(r, timeout=30)
                    elif kind == "bar":
                        r = S.BarycenterRequest(kind=f.r.choice(range(6)), options=f.options(),
                                                cost=f.cost(), debiased=f.r.random() < 0.3)
                        for _ in range(f.r.choice([0, 1, 2, 3])):
                            r.measures.add().CopyFrom(f.measure())
                        for field in ("support", "weights", "support_weights"):
                            if f.r.random() < 0.4:
                                getattr(r, field).CopyFrom(f.arr())
                        stub.Barycenter(r, timeout=30)
                    elif kind == "gw":
                        r = S.GromovRequest(source=f.measure(), target=f.measure(), cost=f.cost(),
                                            loss=f.r.choice(range(4)),
                                            method=f.r.choice(range(4)),
                                            options=f.options(), return_plan=True)
                        for field in ("source_costs", "target_costs", "feature_cost"):
                            if f.r.random() < 0.3:
                                getattr(r, field).CopyFrom(f.arr())
                        if f.r.random() < 0.3:
                            r.alpha = f.r.choice([0.5, 2, -1])
                        stub.GromovWasserstein(r, timeout=30)
                    else:
                        r = S.DistanceBatchRequest()
                        for _ in range(f.r.choice([0, 1, 3])):
                            r.items.add(source=f.measure(), target=f.measure(), cost=f.cost(),
                                        method=f.r.choice(range(10)), options=f.options())
                        stub.DistanceBatch(r, timeout=30)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    code = e.code()
                    self.assertIn(code, ALLOWED, f"{kind}: {code} {e.details()}")
                counts[code.name] = counts.get(code.name, 0) + 1
            self.assertGreater(counts.get("OK", 0), 0)
            self.assertGreater(counts.get("INVALID_ARGUMENT", 0), 0)
        finally:
            client.close()
        self.assertEqual(server.stop(), 0)  # still alive, and drains cleanly


if __name__ == "__main__":
    unittest.main()
