"""numpy-in, numpy-out client for ot.v1.OptimalTransportService. Thread-safe: a
Client may be shared by threads (gRPC channels are)."""
from __future__ import annotations

import dataclasses
from typing import Optional

import grpc
import numpy as np

from ._proto.google.rpc import error_details_pb2, status_pb2
from ._proto.ot.v1 import service_pb2, service_pb2_grpc, types_pb2

_COSTS = {"sqeuclidean": types_pb2.COST_KIND_SQEUCLIDEAN,
          "euclidean": types_pb2.COST_KIND_EUCLIDEAN,
          "power": types_pb2.COST_KIND_POWER}
_METHODS = {"auto": types_pb2.METHOD_AUTO, "exact": types_pb2.METHOD_EXACT,
            "emd": types_pb2.METHOD_EXACT, "sinkhorn": types_pb2.METHOD_SINKHORN,
            "1d": types_pb2.METHOD_ONE_D}
_METHOD_NAMES = {types_pb2.METHOD_EXACT: "exact", types_pb2.METHOD_SINKHORN: "sinkhorn",
                 types_pb2.METHOD_ONE_D: "1d", types_pb2.METHOD_AUTO: "auto"}
_MAX_MESSAGE = 256 << 20


class OTServeError(Exception):
    """A failed call: `code` (grpc.StatusCode), `message`, and `field_violations`, a
    list of (field, description) for INVALID_ARGUMENT."""

    def __init__(self, code, message, field_violations=()):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = list(field_violations)


@dataclasses.dataclass
class DistanceResult:
    value: float                 # <P, C> (W_p^p for ||x-y||^p costs)
    regularized_value: float     # Sinkhorn: <P, C> + eps KL(P | a b^T); else 0
    diagnostics: dict            # method, iterations, marginal_error, converged, ...

    @property
    def converged(self) -> bool:
        return bool(self.diagnostics["converged"])


@dataclasses.dataclass
class PlanResult(DistanceResult):
    plan: np.ndarray = None      # dense [n, m]
    f: Optional[np.ndarray] = None   # dual potentials (None for method 1d)
    g: Optional[np.ndarray] = None


def _array(x, field, ndim) -> types_pb2.Array:
    a = np.asarray(x)
    if a.dtype == np.float32:
        dtype = types_pb2.DTYPE_FLOAT32
        a = np.ascontiguousarray(a, "<f4")
    else:
        try:
            a = np.ascontiguousarray(a, "<f8")
        except (TypeError, ValueError) as e:
            raise ValueError(f"{field}: not numeric ({e})") from None
        dtype = types_pb2.DTYPE_FLOAT64
    if ndim == 2 and a.ndim == 1:
        a = a.reshape(-1, 1)
    return types_pb2.Array(shape=a.shape, dtype=dtype, data=a.tobytes())


def _from_array(msg: types_pb2.Array) -> np.ndarray:
    return np.frombuffer(msg.data, "<f8").reshape(tuple(msg.shape)).copy()


def _diagnostics(d: types_pb2.Diagnostics) -> dict:
    return {
        "method": _METHOD_NAMES.get(d.method, "unspecified"),
        "iterations": d.iterations, "marginal_error": d.marginal_error,
        "converged": d.converged,
        "termination": types_pb2.Termination.Name(d.termination).replace("TERMINATION_", "").lower(),
        "solve_seconds": d.solve_seconds, "queue_seconds": d.queue_seconds,
        "epsilon": d.epsilon, "message": d.message, "n": d.n, "m": d.m,
    }


def _raise(e: grpc.RpcError):
    violations = []
    for key, value in (e.trailing_metadata() or ()):
        if key == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(value)
            for any_ in st.details:
                br = error_details_pb2.BadRequest()
                if any_.Unpack(br):
                    violations += [(v.field, v.description) for v in br.field_violations]
    raise OTServeError(e.code(), e.details(), violations) from None


class Client:
    """Connects to an otserve server (insecure channel, 256 MiB messages)."""

    def __init__(self, target: str = "127.0.0.1:50051", timeout: Optional[float] = None):
        self._channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE)])
        self._stub = service_pb2_grpc.OptimalTransportServiceStub(self._channel)
        self.timeout = timeout

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, req, x, y, a, b, M, cost, p, method, epsilon, relative_epsilon,
              tol, max_iter, epsilon_scaling):
        if x is not None:
            req.source.points.CopyFrom(_array(x, "x", 2))
        if y is not None:
            req.target.points.CopyFrom(_array(y, "y", 2))
        if a is not None:
            req.source.weights.CopyFrom(_array(a, "a", 1))
        if b is not None:
            req.target.weights.CopyFrom(_array(b, "b", 1))
        if M is not None:
            req.cost.kind = types_pb2.COST_KIND_EXPLICIT
            req.cost.matrix.CopyFrom(_array(M, "M", 2))
        else:
            if cost not in _COSTS:
                raise ValueError(f"cost must be one of {sorted(_COSTS)} or pass M")
            req.cost.kind = _COSTS[cost]
            if p is not None:
                req.cost.p = p
        if method not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}")
        req.method = _METHODS[method]
        o = req.options
        if epsilon is not None:
            o.epsilon = epsilon
        o.epsilon_scale = (types_pb2.EPSILON_SCALE_RELATIVE_TO_MEAN_COST if relative_epsilon
                           else types_pb2.EPSILON_SCALE_ABSOLUTE)
        if tol is not None:
            o.tolerance = tol
        if max_iter is not None:
            o.max_iterations = max_iter
        if epsilon_scaling is not None:
            o.epsilon_scaling = epsilon_scaling

    def distance(self, x=None, y=None, a=None, b=None, *, M=None, cost="sqeuclidean",
                 p=None, method="auto", epsilon=None, relative_epsilon=False, tol=None,
                 max_iter=None, epsilon_scaling=None, timeout=None) -> DistanceResult:
        """Optimal transport cost between (a, x) and (b, y). `M` gives an explicit
        [n, m] cost (then x, y may be omitted). cost: sqeuclidean (||x-y||^2, no 1/2),
        euclidean, or power (||x-y||^p). method: auto | exact | sinkhorn | 1d."""
        req = service_pb2.DistanceRequest()
        self._fill(req, x, y, a, b, M, cost, p, method, epsilon, relative_epsilon, tol,
                   max_iter, epsilon_scaling)
        try:
            r = self._stub.Distance(req, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            _raise(e)
        return DistanceResult(r.value, r.regularized_value, _diagnostics(r.diagnostics))

    def plan(self, x=None, y=None, a=None, b=None, *, M=None, cost="sqeuclidean", p=None,
             method="auto", epsilon=None, relative_epsilon=False, tol=None, max_iter=None,
             epsilon_scaling=None, timeout=None) -> PlanResult:
        """As distance(), plus the dense plan [n, m] and the dual potentials f, g."""
        req = service_pb2.PlanRequest(format=service_pb2.PLAN_FORMAT_DENSE)
        self._fill(req, x, y, a, b, M, cost, p, method, epsilon, relative_epsilon, tol,
                   max_iter, epsilon_scaling)
        try:
            r = self._stub.Plan(req, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            _raise(e)
        return PlanResult(r.value, r.regularized_value, _diagnostics(r.diagnostics),
                          plan=_from_array(r.dense_plan),
                          f=_from_array(r.f) if r.HasField("f") else None,
                          g=_from_array(r.g) if r.HasField("g") else None)

    def server_info(self, timeout: float = 10.0) -> dict:
        try:
            r = self._stub.GetServerInfo(service_pb2.GetServerInfoRequest(), timeout=timeout)
        except grpc.RpcError as e:
            _raise(e)
        return {"version": r.version, "worker_threads": r.worker_threads,
                "max_queue": r.max_queue, "max_message_bytes": r.max_message_bytes,
                "max_points": r.max_points, "max_cost_entries": r.max_cost_entries,
                "methods": [types_pb2.Method.Name(m) for m in r.methods],
                "jobs_in_flight": r.jobs_in_flight}
