"""numpy-in, numpy-out client for ot.v1.OptimalTransportService. Thread-safe: a
Client may be shared by threads (gRPC channels are)."""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import socket
from typing import Callable, List, Optional, Sequence, Tuple, Union

import grpc
import numpy as np
from numpy.typing import ArrayLike

from ._proto.google.rpc import error_details_pb2, status_pb2
from ._proto.ot.v1 import service_pb2, service_pb2_grpc, types_pb2

_COSTS = {"sqeuclidean": types_pb2.COST_KIND_SQEUCLIDEAN,
          "euclidean": types_pb2.COST_KIND_EUCLIDEAN,
          "power": types_pb2.COST_KIND_POWER}
# Method names come from the API: each Method value's (ot.v1.cli_name) option.
_METHODS = {v.GetOptions().Extensions[types_pb2.cli_name]: v.number
            for v in types_pb2.Method.DESCRIPTOR.values
            if v.GetOptions().Extensions[types_pb2.cli_name]}
_METHOD_NAMES = {number: name for name, number in _METHODS.items()}
_METHODS["emd"] = types_pb2.METHOD_EXACT  # POT's name for the exact solver
_DIVERGENCES = {"sinkhorn": service_pb2.DIVERGENCE_KIND_SINKHORN,
                "sinkhorn_no_entropy": service_pb2.DIVERGENCE_KIND_SINKHORN_NO_ENTROPY,
                "energy": service_pb2.DIVERGENCE_KIND_ENERGY,
                "gaussian": service_pb2.DIVERGENCE_KIND_GAUSSIAN_MMD,
                "laplacian": service_pb2.DIVERGENCE_KIND_LAPLACIAN_MMD}
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
    distance: float = 0.0        # value ** (1/p): W_p, SW_p, W2 (0 for explicit M)
    # return_gradients=True: {"source_points" [n, d], "target_points" [m, d],
    # "source_weights" [n], "target_weights" [m] (None when not given), "of":
    # the value differentiated ("regularized_value" or "value"), "kind":
    # "gradient" or "subgradient"}; conventions in ot.v1.Gradients.
    gradients: Optional[dict] = None

    @property
    def converged(self) -> bool:
        return bool(self.diagnostics["converged"])


@dataclasses.dataclass
class PlanResult(DistanceResult):
    plan: np.ndarray = None      # dense [n, m]
    f: Optional[np.ndarray] = None   # dual potentials (None for method 1d)
    g: Optional[np.ndarray] = None
    linear_map: Optional[tuple] = None  # gaussian: (A, b) with T(x) = A x + b


@dataclasses.dataclass
class GromovResult:
    value: float                 # sum L(C1_ik, C2_jl) T_ij T_kl (fused: mixed)
    diagnostics: dict
    plan: Optional[np.ndarray] = None


@dataclasses.dataclass
class DivergenceResult:
    value: float
    cross_term: float            # OT_eps(a, b) (or <a, K_xy b> for MMDs)
    source_self_term: float
    target_self_term: float
    diagnostics: dict
    gradients: Optional[dict] = None     # return_gradients=True (as DistanceResult)


@dataclasses.dataclass
class SemiDiscreteResult:
    g: np.ndarray                # dual weights [m], centred
    value: float                 # semi-dual estimate of the transport cost
    standard_error: float        # of value (sampling)
    cell_masses: np.ndarray      # source mass of each target cell [m]
    diagnostics: dict
    assignment: Optional[np.ndarray] = None  # target index of each query point


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


_CODES = {c.value[0]: c for c in grpc.StatusCode}  # int code -> grpc.StatusCode


def _set_options(options, epsilon=None, tol=None, max_iter=None):
    """Fills the set fields of a SolverOptions message."""
    if epsilon is not None:
        options.epsilon = epsilon
    if tol is not None:
        options.tolerance = tol
    if max_iter is not None:
        options.max_iterations = max_iter


def _gradients(r) -> Optional[dict]:
    if not r.HasField("gradients"):
        return None
    g = r.gradients

    def arr(field):
        return _from_array(getattr(g, field)) if g.HasField(field) else None
    return {"source_points": arr("source_points"), "target_points": arr("target_points"),
            "source_weights": arr("source_weights"),
            "target_weights": arr("target_weights"), "of": g.of, "kind": g.kind}


def _distance_result(r) -> DistanceResult:
    return DistanceResult(r.value, r.regularized_value, _diagnostics(r.diagnostics),
                          r.distance, gradients=_gradients(r))


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
        "stopping_rule": d.stopping_rule, "stopping_value": d.stopping_value,
        "device": d.device, "precision": d.precision,
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


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor,
                           grpc.UnaryStreamClientInterceptor):
    """Adds fixed metadata (the bearer token) to every call."""

    def __init__(self, metadata):
        self._metadata = list(metadata)

    def _details(self, details):
        metadata = list(details.metadata or ()) + self._metadata
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else \
            _CallDetails(details.method, details.timeout, metadata, details.credentials,
                         getattr(details, "wait_for_ready", None),
                         getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
    pass


# The problem keywords shared by distance, plan, transport and distance_stream.
_PROBLEM_KEYS = ("M", "cost", "p", "method", "epsilon", "relative_epsilon", "tol",
                 "max_iter", "epsilon_scaling", "reg_m", "n_projections", "seed",
                 "directions", "source_gaussian", "target_gaussian", "device",
                 "precision", "return_gradients")
# SolverOptions.device: where the server runs the job.
_DEVICES = {"auto": types_pb2.DEVICE_AUTO, "cpu": types_pb2.DEVICE_CPU,
            "gpu": types_pb2.DEVICE_GPU}
# SolverOptions.precision: the arithmetic a GPU may use.
_PRECISIONS = {"float64": types_pb2.PRECISION_FLOAT64,
               "float32": types_pb2.PRECISION_FLOAT32}


def _problem(arguments: dict) -> dict:
    return {k: arguments[k] for k in _PROBLEM_KEYS if k in arguments}


def _batch_item(index: int, item: dict) -> dict:
    unknown = set(item) - {"x", "y", "a", "b"} - set(_PROBLEM_KEYS)
    if unknown:
        raise TypeError(f"problems[{index}]: unknown option(s) {sorted(unknown)}; "
                        f"expected x, y, a, b or {', '.join(_PROBLEM_KEYS)}")
    return item


def _read(value):
    """PEM given as bytes, or as a path to a file."""
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


def _service_config(wait_for_ready: bool) -> str:
    """The API's recommended service config (proto/ot/v1/service_config.json:
    round_robin, retries on UNAVAILABLE for every RPC, all of them idempotent)."""
    with open(os.path.join(os.path.dirname(__file__), "service_config.json")) as f:
        config = json.load(f)
    if wait_for_ready:
        for method in config["methodConfig"]:
            method["waitForReady"] = True
    return json.dumps(config)


def _target(target) -> str:
    """A gRPC target from "host:port", a scheme target ("dns:///name:port",
    "ipv4:a:p,b:q", ...), or several "host:port" (a list or a comma-separated
    string; names are resolved once, here: use dns:/// to follow changes)."""
    if isinstance(target, str):
        if "://" in target or target.split(":", 1)[0] in ("ipv4", "ipv6", "unix", "dns"):
            return target
        if "," not in target:
            return target
        target = target.split(",")
    addresses = []
    for address in target:
        host, sep, port = address.strip().rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"address {address!r} is not host:port")
        host = host.strip("[]")
        infos = socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_TCP)
        families = {info[0] for info in infos}
        if socket.AF_INET in families:
            ip = next(i[4][0] for i in infos if i[0] == socket.AF_INET)
            addresses.append(("ipv4", f"{ip}:{port}"))
        else:
            ip = next(i[4][0] for i in infos if i[0] == socket.AF_INET6)
            addresses.append(("ipv6", f"[{ip}]:{port}"))
    schemes = {scheme for scheme, _ in addresses}
    if len(schemes) != 1:
        raise ValueError("several addresses must be all IPv4 or all IPv6")
    return schemes.pop() + ":" + ",".join(a for _, a in addresses)


class Client:
    """Connects to one or several otserve servers (256 MiB messages).

    target: "host:port", "dns:///name:port" (every address the name resolves to),
    or several "host:port" as a list or comma-separated. Calls are balanced per
    call (round_robin) and retried on UNAVAILABLE (up to 5 attempts, backoff from
    50 ms), so a replica that goes away costs no call; wait_for_ready makes calls
    wait for a server instead of failing at once while none is reachable.

    Security, each also read from the environment when not given:
      token (OTSERVE_TOKEN): sent as "authorization: Bearer <token>" on every call.
      tls (OTSERVE_TLS=1): TLS with the system's roots, or with
      root_certificates (OTSERVE_TLS_CA: a PEM path or bytes), which implies tls.
      client_cert, client_key (OTSERVE_TLS_CERT, OTSERVE_TLS_KEY): a certificate for
      servers that require mutual TLS.
    channel_options: extra gRPC channel arguments, e.g. [("grpc.keepalive_time_ms",
    30000)].
    """

    def __init__(self, target: Union[str, Sequence[str]] = "127.0.0.1:50051",
                 timeout: Optional[float] = None, *, token: Optional[str] = None,
                 tls: Optional[bool] = None, root_certificates=None, client_cert=None,
                 client_key=None, wait_for_ready: bool = False,
                 channel_options: Sequence[Tuple[str, object]] = ()):
        env = os.environ
        token = token if token is not None else env.get("OTSERVE_TOKEN") or None
        root_certificates = root_certificates if root_certificates is not None \
            else env.get("OTSERVE_TLS_CA") or None
        client_cert = client_cert if client_cert is not None \
            else env.get("OTSERVE_TLS_CERT") or None
        client_key = client_key if client_key is not None \
            else env.get("OTSERVE_TLS_KEY") or None
        if tls is None:
            tls = env.get("OTSERVE_TLS", "") not in ("", "0", "false") or \
                root_certificates is not None or client_cert is not None
        if (client_cert is None) != (client_key is None):
            raise ValueError("client_cert and client_key go together")
        target = _target(target)
        options = [("grpc.max_send_message_length", _MAX_MESSAGE),
                   ("grpc.max_receive_message_length", _MAX_MESSAGE),
                   ("grpc.service_config", _service_config(wait_for_ready)),
                   ("grpc.enable_retries", 1),
                   # Retries replay the request: keep requests up to the limit.
                   ("grpc.per_rpc_retry_buffer_size", _MAX_MESSAGE)] + list(channel_options)
        if tls:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(root_certificates),
                private_key=_read(client_key), certificate_chain=_read(client_cert))
            channel = grpc.secure_channel(target, credentials, options=options)
        else:
            if client_cert is not None:
                raise ValueError("client_cert needs tls")
            channel = grpc.insecure_channel(target, options=options)
        self._raw_channel = channel
        if token:
            channel = grpc.intercept_channel(
                channel, _MetadataInterceptor([("authorization", f"Bearer {token}")]))
        self._channel = channel
        self._stub = service_pb2_grpc.OptimalTransportServiceStub(self._channel)
        self.timeout = timeout

    def close(self) -> None:
        self._raw_channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, rpc, req, timeout):
        try:
            return rpc(req, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            _raise(e)

    def _fill(self, req, x, y, a, b, M, cost, p, method, epsilon, relative_epsilon,
              tol, max_iter, epsilon_scaling, reg_m=None, n_projections=None, seed=None,
              directions=None, source_gaussian=None, target_gaussian=None, device="auto",
              precision="float64", return_gradients=False):
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
        if method is not None:  # None: the request has no method field
            if method not in _METHODS:
                raise ValueError(f"method must be one of {sorted(_METHODS)}")
            req.method = _METHODS[method]
        o = req.options
        _set_options(o, epsilon, tol, max_iter)
        o.epsilon_scale = (types_pb2.EPSILON_SCALE_RELATIVE_TO_MEAN_COST if relative_epsilon
                           else types_pb2.EPSILON_SCALE_ABSOLUTE)
        for field, value in (("epsilon_scaling", epsilon_scaling),
                             ("marginal_relaxation", reg_m),
                             ("num_directions", n_projections), ("seed", seed)):
            if value is not None:
                setattr(o, field, value)
        if directions is not None:
            o.directions.CopyFrom(_array(directions, "directions", 2))
        if device not in _DEVICES:
            raise ValueError(f"device must be one of {sorted(_DEVICES)}")
        o.device = _DEVICES[device]
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}")
        o.precision = _PRECISIONS[precision]
        o.return_gradients = bool(return_gradients)
        for g, measure in ((source_gaussian, req.source), (target_gaussian, req.target)):
            if g is not None:
                mean, cov = g
                measure.gaussian.mean.CopyFrom(_array(mean, "mean", 1))
                measure.gaussian.covariance.CopyFrom(_array(cov, "cov", 2))

    def _distance_request(self, x=None, y=None, a=None, b=None, *, M=None,
                          cost="sqeuclidean", p=None, method="auto", epsilon=None,
                          relative_epsilon=False, tol=None, max_iter=None,
                          epsilon_scaling=None, reg_m=None, n_projections=None, seed=None,
                          directions=None, source_gaussian=None, target_gaussian=None,
                          device="auto", precision="float64", return_gradients=False,
                          request_type=service_pb2.DistanceRequest):
        req = request_type()
        self._fill(req, x, y, a, b, M, cost, p, method, epsilon, relative_epsilon, tol,
                   max_iter, epsilon_scaling, reg_m, n_projections, seed, directions,
                   source_gaussian, target_gaussian, device, precision,
                   return_gradients)
        return req

    def distance(self, x: Optional[ArrayLike] = None, y: Optional[ArrayLike] = None,
                 a: Optional[ArrayLike] = None, b: Optional[ArrayLike] = None, *,
                 M: Optional[ArrayLike] = None, cost: str = "sqeuclidean",
                 p: Optional[float] = None, method: str = "auto",
                 epsilon: Optional[float] = None, relative_epsilon: bool = False,
                 tol: Optional[float] = None, max_iter: Optional[int] = None,
                 epsilon_scaling: Optional[bool] = None, reg_m: Optional[float] = None,
                 n_projections: Optional[int] = None, seed: Optional[int] = None,
                 directions: Optional[ArrayLike] = None,
                 source_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
                 target_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
                 device: str = "auto",
                 precision: str = "float64",
                 return_gradients: bool = False,
                 timeout: Optional[float] = None) -> DistanceResult:
        """Optimal transport cost between (a, x) and (b, y).

        M: explicit [n, m] cost (then x, y may be omitted). cost: sqeuclidean
        (||x-y||^2, no 1/2), euclidean, or power (||x-y||^p, with p). method: auto |
        exact | sinkhorn | 1d | unbalanced (needs reg_m, POT's) | sliced | max_sliced
        (n_projections, seed or directions [L, d]) | gaussian (closed-form W2 of
        Gaussians fitted to the points, or given as source_gaussian=(mean, cov)).
        epsilon, relative_epsilon, tol, max_iter, epsilon_scaling: solver options.
        device: "auto" | "cpu" | "gpu" (where the server runs it; diagnostics["device"]
        says where it ran). precision: "float64" | "float32" (float32 reductions on
        a GPU; diagnostics["precision"] says what was used). return_gradients: also
        return the gradients of the value (result.gradients; exact, 1d, sinkhorn,
        unbalanced)."""
        req = self._distance_request(x, y, a, b, **_problem(locals()))
        return _distance_result(self._call(self._stub.Distance, req, timeout))

    def distance_batch(self, problems: Sequence[dict], timeout: Optional[float] = None
                       ) -> List[Union[DistanceResult, "OTServeError"]]:
        """Solves many problems (each a dict of distance() keyword arguments, with
        x, y, a, b as keys) in one call. Returns, in order, a DistanceResult or an
        OTServeError for each."""
        req = service_pb2.DistanceBatchRequest(
            items=[self._distance_request(**_batch_item(i, kw))
                   for i, kw in enumerate(problems)])
        r = self._call(self._stub.DistanceBatch, req, timeout)
        out = []
        for item in r.items:
            if item.HasField("result"):
                out.append(_distance_result(item.result))
            else:
                e = item.error
                out.append(OTServeError(_CODES.get(e.code, grpc.StatusCode.UNKNOWN), e.message,
                                        [(v.field, v.description) for v in e.field_violations]))
        return out

    def distance_stream(self, x: Optional[ArrayLike] = None, y: Optional[ArrayLike] = None,
                        a: Optional[ArrayLike] = None, b: Optional[ArrayLike] = None, *,
                        on_progress: Optional[Callable[[dict], None]] = None,
                        M: Optional[ArrayLike] = None, cost: str = "sqeuclidean",
                        p: Optional[float] = None, method: str = "auto",
                        epsilon: Optional[float] = None, relative_epsilon: bool = False,
                        tol: Optional[float] = None, max_iter: Optional[int] = None,
                        epsilon_scaling: Optional[bool] = None, reg_m: Optional[float] = None,
                        n_projections: Optional[int] = None, seed: Optional[int] = None,
                        directions: Optional[ArrayLike] = None,
                        source_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
                        target_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
                        device: str = "auto",
                        precision: str = "float64",
                        return_gradients: bool = False,
                        timeout: Optional[float] = None) -> DistanceResult:
        """As distance(), calling on_progress(dict(iteration, error, epsilon,
        elapsed_seconds)) while the server works. Raising from on_progress (or
        KeyboardInterrupt) cancels the job on the server."""
        req = self._distance_request(x, y, a, b, **_problem(locals()))
        return _distance_result(self._stream(self._stub.DistanceStream, req, on_progress,
                                             timeout))

    def _stream(self, rpc, req, on_progress, timeout):
        """Runs a streaming RPC: progress events to on_progress, returns the result
        message; an exception from on_progress cancels the job."""
        stream = rpc(req, timeout=timeout or self.timeout)
        try:
            for event in stream:
                if event.HasField("progress"):
                    if on_progress:
                        pr = event.progress
                        on_progress({"iteration": pr.iteration, "error": pr.error,
                                     "epsilon": pr.epsilon,
                                     "elapsed_seconds": pr.elapsed_seconds})
                else:
                    return event.result
        except grpc.RpcError as e:
            _raise(e)
        except BaseException:
            stream.cancel()
            raise
        raise OTServeError(grpc.StatusCode.INTERNAL, "stream ended without a result")

    def transport(self, x: ArrayLike, y: ArrayLike, a: Optional[ArrayLike] = None,
                  b: Optional[ArrayLike] = None, *, query: Optional[ArrayLike] = None,
                  M: Optional[ArrayLike] = None, cost: str = "sqeuclidean",
                  p: Optional[float] = None, method: str = "auto",
                  epsilon: Optional[float] = None, relative_epsilon: bool = False,
                  tol: Optional[float] = None, max_iter: Optional[int] = None,
                  epsilon_scaling: Optional[bool] = None, reg_m: Optional[float] = None,
                  n_projections: Optional[int] = None, seed: Optional[int] = None,
                  directions: Optional[ArrayLike] = None,
                  source_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
                  target_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
                  device: str = "auto",
                  precision: str = "float64",
                  timeout: Optional[float] = None) -> np.ndarray:
        """Maps points with the solved problem (distance() keywords): query=None gives
        the barycentric projection of x (sum_j P_ij y_j / sum_j P_ij, any method with
        a plan; a point whose row has no mass maps to the mean of y); query [k, d] is moved by the entropic map of a Sinkhorn solve (as
        OTT's DualPotentials.transport; squared Euclidean cost)."""
        req = self._distance_request(x, y, a, b, request_type=service_pb2.MapRequest,
                                     **_problem(locals()))
        if query is not None:
            req.query_points.CopyFrom(_array(query, "query", 2))
        r = self._call(self._stub.Map, req, timeout)
        return _from_array(r.mapped_points)

    def interpolate(self, x: ArrayLike, y: ArrayLike, a: Optional[ArrayLike] = None,
                    b: Optional[ArrayLike] = None, *, times: Sequence[float],
                    cost: str = "sqeuclidean", p: Optional[float] = None,
                    method: str = "exact", epsilon: Optional[float] = None,
                    relative_epsilon: bool = False, tol: Optional[float] = None,
                    max_iter: Optional[int] = None,
                    epsilon_scaling: Optional[bool] = None, device: str = "auto",
                    precision: str = "float64",
                    timeout: Optional[float] = None) -> List[Tuple[float, np.ndarray,
                                                                   np.ndarray]]:
        """McCann's displacement interpolation between (a, x) and (b, y): for each t in
        times, (t, points [k, d], weights [k]). method "exact" or "1d": the Wasserstein
        geodesic, one point (1 - t) x_i + t y_j of mass P_ij per plan entry; "sinkhorn":
        the barycentric interpolant (1 - t) x_i + t T(x_i)."""
        req = self._distance_request(x, y, a, b, request_type=service_pb2.MapRequest,
                                     **_problem(locals()))
        req.interpolation_times.extend(float(t) for t in times)
        r = self._call(self._stub.Map, req, timeout)
        return [(it.t, _from_array(it.points), _from_array(it.weights))
                for it in r.interpolants]

    def semi_discrete(self, source: dict, y: ArrayLike, b: Optional[ArrayLike] = None,
                      *, cost: str = "sqeuclidean", p: Optional[float] = None,
                      epsilon: Optional[float] = None, iterations: Optional[int] = None,
                      batch_size: Optional[int] = None,
                      step_size: Optional[float] = None, seed: Optional[int] = None,
                      evaluation_samples: Optional[int] = None,
                      tol: Optional[float] = None, query: Optional[ArrayLike] = None,
                      timeout: Optional[float] = None) -> SemiDiscreteResult:
        """Semi-discrete OT from a density the server samples to (b, y) by averaged
        SGD on the semi-dual. source: {"box": (low, high)}, {"gaussian": (mean,
        cov)} or {"mixture": ([(mean, cov), ...], weights)}. epsilon > 0: entropic.
        query [k, d]: points to assign to target cells (result.assignment)."""
        req = service_pb2.SemiDiscreteRequest()
        if len(source) != 1 or next(iter(source)) not in ("box", "gaussian", "mixture"):
            raise ValueError('source must be {"box": ...}, {"gaussian": ...} or '
                             '{"mixture": ...}')
        kind, spec = next(iter(source.items()))
        if kind == "box":
            req.source.box.low.CopyFrom(_array(spec[0], "low", 1))
            req.source.box.high.CopyFrom(_array(spec[1], "high", 1))
        elif kind == "gaussian":
            req.source.gaussian.mean.CopyFrom(_array(spec[0], "mean", 1))
            req.source.gaussian.covariance.CopyFrom(_array(spec[1], "cov", 2))
        else:
            components, weights = spec
            for mean, cov in components:
                c = req.source.mixture.components.add()
                c.mean.CopyFrom(_array(mean, "mean", 1))
                c.covariance.CopyFrom(_array(cov, "cov", 2))
            req.source.mixture.weights.CopyFrom(_array(weights, "weights", 1))
        req.target.points.CopyFrom(_array(y, "y", 2))
        if b is not None:
            req.target.weights.CopyFrom(_array(b, "b", 1))
        if cost not in _COSTS:
            raise ValueError(f"cost must be one of {sorted(_COSTS)}")
        req.cost.kind = _COSTS[cost]
        if p is not None:
            req.cost.p = p
        for field, value in (("epsilon", epsilon), ("iterations", iterations),
                             ("batch_size", batch_size), ("step_size", step_size),
                             ("seed", seed), ("evaluation_samples", evaluation_samples),
                             ("tolerance", tol)):
            if value is not None:
                setattr(req, field, value)
        if query is not None:
            req.query_points.CopyFrom(_array(query, "query", 2))
        r = self._call(self._stub.SemiDiscrete, req, timeout)
        return SemiDiscreteResult(_from_array(r.g), r.value, r.standard_error,
                                  _from_array(r.cell_masses), _diagnostics(r.diagnostics),
                                  np.array(r.assignment, dtype=np.int64)
                                  if query is not None else None)

    def divergence(self, x: ArrayLike, y: ArrayLike, a: Optional[ArrayLike] = None,
                   b: Optional[ArrayLike] = None, *, kind: str = "sinkhorn",
                   cost: str = "sqeuclidean", p: Optional[float] = None,
                   epsilon: Optional[float] = None, relative_epsilon: bool = False,
                   blur: Optional[float] = None, tol: Optional[float] = None,
                   max_iter: Optional[int] = None, epsilon_scaling: Optional[bool] = None,
                   reg_m: Optional[float] = None, device: str = "auto",
                   precision: str = "float64",
                   return_gradients: bool = False,
                   timeout: Optional[float] = None) -> DivergenceResult:
        """Debiased Sinkhorn divergence (kind="sinkhorn", entropic terms included as
        OTT/GeomLoss; "sinkhorn_no_entropy" as POT's empirical_sinkhorn_divergence)
        or a kernel MMD ("energy", "gaussian", "laplacian" with blur)."""
        if kind not in _DIVERGENCES:
            raise ValueError(f"kind must be one of {sorted(_DIVERGENCES)}")
        req = service_pb2.DivergenceRequest(kind=_DIVERGENCES[kind])
        self._fill(req, x, y, a, b, None, cost, p, None, epsilon, relative_epsilon,
                   tol, max_iter, epsilon_scaling, reg_m, device=device,
                   precision=precision, return_gradients=return_gradients)
        if blur is not None:
            req.blur = blur
        r = self._call(self._stub.Divergence, req, timeout)
        return DivergenceResult(r.value, r.cross_term, r.source_self_term,
                                r.target_self_term, _diagnostics(r.diagnostics),
                                gradients=_gradients(r))

    def barycenter(self, A: ArrayLike, M: Optional[ArrayLike] = None, *,
                   support: Optional[ArrayLike] = None, cost: str = "sqeuclidean",
                   p: Optional[float] = None, reg: Optional[float] = None,
                   relative_epsilon: bool = False, weights: Optional[ArrayLike] = None,
                   tol: Optional[float] = None, max_iter: Optional[int] = None,
                   debiased: bool = False,
                   timeout: Optional[float] = None) -> Tuple[np.ndarray, dict]:
        """Fixed-support entropic barycenter (POT's ot.bregman.barycenter with
        method="sinkhorn_log"): A [n, K] histograms as columns; M [n, m] explicit cost
        or support [n, d] points with `cost`; reg = epsilon (absolute unless
        relative_epsilon; default 0.05 x mean cost). Returns (weights [m], diagnostics)."""
        A = np.asarray(A, dtype=np.float64)
        req = service_pb2.BarycenterRequest(kind=service_pb2.BARYCENTER_KIND_FIXED_SUPPORT,
                                            debiased=debiased)
        for k in range(A.shape[1]):
            req.measures.add().weights.CopyFrom(_array(A[:, k], "A", 1))
        if M is not None:
            req.cost.kind = types_pb2.COST_KIND_EXPLICIT
            req.cost.matrix.CopyFrom(_array(M, "M", 2))
        else:
            req.cost.kind = _COSTS[cost]
            if p is not None:
                req.cost.p = p
            req.support.CopyFrom(_array(support, "support", 2))
        if weights is not None:
            req.weights.CopyFrom(_array(weights, "weights", 1))
        _set_options(req.options, reg, tol, max_iter)
        if relative_epsilon:
            req.options.epsilon_scale = types_pb2.EPSILON_SCALE_RELATIVE_TO_MEAN_COST
        r = self._call(self._stub.Barycenter, req, timeout)
        return _from_array(r.weights), _diagnostics(r.diagnostics)

    def gromov_wasserstein(self, x: Optional[ArrayLike] = None,
                           y: Optional[ArrayLike] = None, p: Optional[ArrayLike] = None,
                           q: Optional[ArrayLike] = None, *, C1: Optional[ArrayLike] = None,
                           C2: Optional[ArrayLike] = None, cost: str = "sqeuclidean",
                           loss: str = "square", method: Optional[str] = None,
                           epsilon: Optional[float] = None, alpha: Optional[float] = None,
                           M: Optional[ArrayLike] = None, tol: Optional[float] = None,
                           max_iter: Optional[int] = None, return_plan: bool = True,
                           on_progress: Optional[Callable[[dict], None]] = None,
                           timeout: Optional[float] = None) -> GromovResult:
        """Gromov-Wasserstein between (p, x or C1) and (q, y or C2); x and y may have
        different dimensions. epsilon set: entropic GW (POT's
        entropic_gromov_wasserstein); else conditional gradient (POT's
        gromov_wasserstein). alpha < 1 with M [n, m]: fused GW. loss: square | kl.
        on_progress: called with dict(iteration, error, epsilon, elapsed_seconds)
        per outer step (error: the plan change) while the server works, through
        the streaming RPC; raising from it cancels the job."""
        req = service_pb2.GromovRequest(return_plan=return_plan)
        if x is not None:
            req.source.points.CopyFrom(_array(x, "x", 2))
        if y is not None:
            req.target.points.CopyFrom(_array(y, "y", 2))
        if C1 is not None:
            req.source_costs.CopyFrom(_array(C1, "C1", 2))
        if C2 is not None:
            req.target_costs.CopyFrom(_array(C2, "C2", 2))
        if p is not None:
            req.source.weights.CopyFrom(_array(p, "p", 1))
        if q is not None:
            req.target.weights.CopyFrom(_array(q, "q", 1))
        req.cost.kind = _COSTS[cost]
        req.loss = {"square": service_pb2.GROMOV_LOSS_SQUARE, "kl": service_pb2.GROMOV_LOSS_KL}[loss]
        if method is not None:
            req.method = {"entropic": service_pb2.GROMOV_METHOD_ENTROPIC,
                          "cg": service_pb2.GROMOV_METHOD_CONDITIONAL_GRADIENT}[method]
        _set_options(req.options, epsilon, tol, max_iter)
        if alpha is not None:
            req.alpha = alpha
        if M is not None:
            req.feature_cost.CopyFrom(_array(M, "M", 2))
        if on_progress is not None:
            r = self._stream(self._stub.GromovWassersteinStream, req, on_progress, timeout)
        else:
            r = self._call(self._stub.GromovWasserstein, req, timeout)
        return GromovResult(r.value, _diagnostics(r.diagnostics),
                            _from_array(r.plan) if r.HasField("plan") else None)

    def convolutional_barycenter(self, A: ArrayLike, reg: float,
                                 weights: Optional[ArrayLike] = None, *,
                                 tol: Optional[float] = None, max_iter: Optional[int] = None,
                                 timeout: Optional[float] = None) -> Tuple[np.ndarray, dict]:
        """Convolutional barycenter of images A [K, h, w] or [K, h, w, d] (each of mass
        1) on the unit grid with regularisation reg (POT's
        convolutional_barycenter2d, method "sinkhorn_log"). Returns (image,
        diagnostics)."""
        A = np.asarray(A, dtype=np.float64)
        req = service_pb2.BarycenterRequest(kind=service_pb2.BARYCENTER_KIND_GRID)
        for img in A:
            req.measures.add().weights.CopyFrom(
                types_pb2.Array(shape=img.shape, dtype=types_pb2.DTYPE_FLOAT64,
                                data=np.ascontiguousarray(img, "<f8").tobytes()))
        _set_options(req.options, reg, tol, max_iter)
        if weights is not None:
            req.weights.CopyFrom(_array(weights, "weights", 1))
        r = self._call(self._stub.Barycenter, req, timeout)
        return _from_array(r.weights), _diagnostics(r.diagnostics)

    def free_support_barycenter(self, measures_locations: Sequence[ArrayLike],
                                measures_weights: Optional[Sequence[ArrayLike]] = None,
                                X_init: Optional[ArrayLike] = None,
                                b: Optional[ArrayLike] = None,
                                weights: Optional[ArrayLike] = None, *,
                                epsilon: Optional[float] = None, tol: Optional[float] = None,
                                max_iter: Optional[int] = None,
                                timeout: Optional[float] = None) -> Tuple[np.ndarray, dict]:
        """Free-support barycenter (POT's ot.lp.free_support_barycenter argument
        order): point clouds, their weights (default uniform), the initial support
        X_init [k, d] with weights b, barycentric weights. epsilon: Sinkhorn inner
        solves instead of exact ones. Returns (X [k, d], diagnostics)."""
        req = service_pb2.BarycenterRequest(kind=service_pb2.BARYCENTER_KIND_FREE_SUPPORT)
        for k, pts in enumerate(measures_locations):
            m = req.measures.add()
            m.points.CopyFrom(_array(pts, "measures_locations", 2))
            if measures_weights is not None:
                m.weights.CopyFrom(_array(measures_weights[k], "measures_weights", 1))
        req.support.CopyFrom(_array(X_init, "X_init", 2))
        if b is not None:
            req.support_weights.CopyFrom(_array(b, "b", 1))
        if weights is not None:
            req.weights.CopyFrom(_array(weights, "weights", 1))
        _set_options(req.options, epsilon, tol, max_iter)
        r = self._call(self._stub.Barycenter, req, timeout)
        return _from_array(r.points), _diagnostics(r.diagnostics)

    def gaussian_barycenter(self, measures: Sequence, weights: Optional[ArrayLike] = None,
                            *, tol: Optional[float] = None, max_iter: Optional[int] = None,
                            timeout: Optional[float] = None
                            ) -> Tuple[np.ndarray, np.ndarray, dict]:
        """Bures-Wasserstein barycenter. measures: list of (mean, cov) tuples or
        point clouds [n, d] (a Gaussian is fitted). Returns (mean, cov, diagnostics)."""
        req = service_pb2.BarycenterRequest(kind=service_pb2.BARYCENTER_KIND_GAUSSIAN)
        for m in measures:
            msg = req.measures.add()
            if isinstance(m, tuple):
                msg.gaussian.mean.CopyFrom(_array(m[0], "mean", 1))
                msg.gaussian.covariance.CopyFrom(_array(m[1], "cov", 2))
            else:
                msg.points.CopyFrom(_array(m, "points", 2))
        if weights is not None:
            req.weights.CopyFrom(_array(weights, "weights", 1))
        _set_options(req.options, None, tol, max_iter)
        r = self._call(self._stub.Barycenter, req, timeout)
        return (_from_array(r.gaussian.mean), _from_array(r.gaussian.covariance),
                _diagnostics(r.diagnostics))

    def plan(self, x: Optional[ArrayLike] = None, y: Optional[ArrayLike] = None,
             a: Optional[ArrayLike] = None, b: Optional[ArrayLike] = None, *,
             M: Optional[ArrayLike] = None, cost: str = "sqeuclidean",
             p: Optional[float] = None, method: str = "auto",
             epsilon: Optional[float] = None, relative_epsilon: bool = False,
             tol: Optional[float] = None, max_iter: Optional[int] = None,
             epsilon_scaling: Optional[bool] = None, reg_m: Optional[float] = None,
             n_projections: Optional[int] = None, seed: Optional[int] = None,
             directions: Optional[ArrayLike] = None,
             source_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
             target_gaussian: Optional[Tuple[ArrayLike, ArrayLike]] = None,
             device: str = "auto",
             precision: str = "float64",
             return_gradients: bool = False,
             timeout: Optional[float] = None) -> PlanResult:
        """As distance(), plus the dense plan [n, m] and the dual potentials f, g
        (method gaussian: linear_map = (A, b) instead of a plan)."""
        req = self._distance_request(x, y, a, b, request_type=service_pb2.PlanRequest,
                                     **_problem(locals()))
        req.format = service_pb2.PLAN_FORMAT_DENSE
        r = self._call(self._stub.Plan, req, timeout)
        lm = None
        if r.HasField("linear_map"):
            lm = (_from_array(r.linear_map.matrix), _from_array(r.linear_map.offset))
        return PlanResult(r.value, r.regularized_value, _diagnostics(r.diagnostics),
                          r.distance, linear_map=lm,
                          plan=_from_array(r.dense_plan) if r.HasField("dense_plan") else None,
                          f=_from_array(r.f) if r.HasField("f") else None,
                          g=_from_array(r.g) if r.HasField("g") else None,
                          gradients=_gradients(r))

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
