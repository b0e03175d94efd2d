"""otserve as a torch loss: autograd Functions whose forward calls the service and
whose backward uses the gradients the service returns (SolverOptions.
return_gradients: envelope-theorem gradients of Sinkhorn values, subgradients of
exact and 1-D values; see ot.v1.Gradients).

    import otserve, otserve.torch as ott
    c = otserve.Client("127.0.0.1:50051")
    loss = ott.sinkhorn_divergence(c, x, y, epsilon=0.01)   # x, y: torch tensors
    loss.backward()                                          # x.grad, y.grad

Tensors: CPU, float32 or float64, shapes [n, d] (or [B, n, d] for a batch of
problems, then the result has shape [B]); weights a [n] / b [m] (or [B, n]) are
optional (uniform) and differentiable when given. The values and gradients are
computed in float64 on the server and returned in the inputs' dtype.

Importing this module needs torch; `import otserve` alone never does.
"""
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
import torch

__all__ = ["distance", "sinkhorn_divergence", "SinkhornDivergence"]


def _numpy(t: Optional[torch.Tensor]):
    return None if t is None else t.detach().cpu().numpy()


def _call(kind: str, client, x, y, a, b, options: dict):
    """One service call; returns (value, gradients dict)."""
    if kind == "divergence":
        r = client.divergence(x, y, a, b, return_gradients=True, **options)
        return r.value, r.gradients
    r = client.distance(x, y, a, b, return_gradients=True, **options)
    g = r.gradients
    value = r.regularized_value if g["of"] == "regularized_value" else r.value
    return value, g


class _ServiceLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kind, client, options, x, y, a, b):
        batched = x.dim() == 3
        xs, ys = _numpy(x), _numpy(y)
        as_, bs = _numpy(a), _numpy(b)
        if not batched:
            calls = [(xs, ys, as_, bs)]
        else:
            calls = [(xs[k], ys[k], None if as_ is None else as_[k],
                      None if bs is None else bs[k]) for k in range(xs.shape[0])]
        with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
            out = list(pool.map(lambda c: _call(kind, client, *c, options), calls))
        values = np.array([v for v, _ in out])

        def stack(key, like):
            if like is None:
                return None
            parts = [g[key] for _, g in out]
            if any(p is None for p in parts):
                raise ValueError(f"the service returned no {key} gradient")
            arr = np.stack(parts) if batched else parts[0]
            return torch.as_tensor(arr, dtype=like.dtype, device=like.device)

        ctx.save_for_backward(
            *[t if t is not None else torch.empty(0) for t in (
                stack("source_points", x), stack("target_points", y),
                stack("source_weights", a), stack("target_weights", b))])
        ctx.has = (a is not None, b is not None)
        result = torch.as_tensor(values if batched else values[0], dtype=x.dtype,
                                 device=x.device)
        return result

    @staticmethod
    def backward(ctx, grad_out):
        gx, gy, ga, gb = ctx.saved_tensors
        # grad_out: a scalar, or [B] for a batch: scale each problem's gradients.
        scale = grad_out if grad_out.dim() == 0 else grad_out.view(-1, 1, 1)
        wscale = grad_out if grad_out.dim() == 0 else grad_out.view(-1, 1)
        return (None, None, None, scale * gx, scale * gy,
                wscale * ga if ctx.has[0] else None,
                wscale * gb if ctx.has[1] else None)


def _check(x: torch.Tensor, y: torch.Tensor):
    if x.device.type != "cpu" or y.device.type != "cpu":
        raise ValueError("otserve.torch takes CPU tensors (move them with .cpu())")
    if x.dtype not in (torch.float32, torch.float64) or y.dtype != x.dtype:
        raise ValueError("x and y must both be float32 or both float64")
    if x.dim() not in (2, 3) or y.dim() != x.dim():
        raise ValueError("x and y must be [n, d] and [m, d] (or [B, n, d], [B, m, d])")


def sinkhorn_divergence(client, x: torch.Tensor, y: torch.Tensor,
                        a: Optional[torch.Tensor] = None,
                        b: Optional[torch.Tensor] = None, **options) -> torch.Tensor:
    """The debiased Sinkhorn divergence S_eps(a, b) (Client.divergence, kind
    "sinkhorn"), differentiable in x, y and the given weights. options: the
    keywords of Client.divergence (epsilon, relative_epsilon, tol, max_iter,
    epsilon_scaling, cost, p, reg_m, timeout, ...)."""
    _check(x, y)
    options = dict(options, kind="sinkhorn")
    return _ServiceLoss.apply("divergence", client, options, x, y, a, b)


def distance(client, x: torch.Tensor, y: torch.Tensor, a: Optional[torch.Tensor] = None,
             b: Optional[torch.Tensor] = None, *, method: str = "sinkhorn",
             **options) -> torch.Tensor:
    """The transport value the service differentiates: the regularised value for
    method "sinkhorn" / "unbalanced" (<P, C> + eps KL(P | a b^T), plus the
    marginal penalties), the value <P, C> for "exact", "1d", "sliced" and
    "max_sliced" (subgradients).
    options: the keywords of Client.distance."""
    _check(x, y)
    options = dict(options, method=method)
    return _ServiceLoss.apply("distance", client, options, x, y, a, b)


class SinkhornDivergence(torch.nn.Module):
    """sinkhorn_divergence as a module: SinkhornDivergence(client, epsilon=...)(x, y)."""

    def __init__(self, client, **options):
        super().__init__()
        self.client = client
        self.options = options

    def forward(self, x, y, a=None, b=None):
        return sinkhorn_divergence(self.client, x, y, a, b, **self.options)
