"""A training-loss step through otserve against GeomLoss on the same machine:
the debiased Sinkhorn divergence of two clouds and its gradient with respect to
the source points, end to end (otserve: one Divergence call with
return_gradients through otserve.torch, loss.backward(); GeomLoss:
SamplesLoss("sinkhorn") forward + backward, CPU, tensorized backend).

Conventions matched: GeomLoss halves the squared cost, so SamplesLoss("sinkhorn",
p=2, blur=s) is 1/2 of otserve's divergence at epsilon = 2 s^2 (proto). GeomLoss
runs a fixed epsilon schedule (scaling 0.5) without a stopping rule; otserve
iterates to `--tol` (marginal error). The value difference is printed.

GeomLoss is not a dependency of the project: install it for this benchmark only,
e.g. `pip download geomloss --no-deps` and `pip install --no-deps --target DIR`,
then PYTHONPATH=DIR (it needs torch; Debian's python3-torch will do).

    python3 bench/gradient_roundtrip.py --target HOST:PORT [--sizes 1000 10000]
"""
import argparse, os, sys, time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import otserve.torch as ott  # noqa: E402
from _local import client  # noqa: E402


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", help="an otserve address (default: start one here)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--blur", type=float, default=0.05)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    try:
        from geomloss import SamplesLoss
    except ImportError:
        SamplesLoss = None
        print("geomloss is not importable: otserve column only")
    eps = 2 * args.blur ** 2
    print(f"threads: torch {torch.get_num_threads()}; blur {args.blur} "
          f"(otserve epsilon {eps}), otserve tol {args.tol}")
    print(f"{'n':>7} {'otserve s':>10} {'geomloss s':>11} {'ratio':>7} "
          f"{'S otserve/2':>12} {'S geomloss':>11} {'grad rel diff':>13}")
    with client(args.target, timeout=3600) as c:
        for n in args.sizes:
            rng = np.random.default_rng(n)
            x0 = rng.normal(size=(n, 2))
            y0 = rng.normal(size=(n, 2)) + 1.0

            def ours():
                x = torch.tensor(x0, requires_grad=True)
                loss = ott.sinkhorn_divergence(c, x, torch.tensor(y0), epsilon=eps,
                                               tol=args.tol)
                loss.backward()
                return loss.item() / 2, x.grad / 2

            t_ours, (v_ours, g_ours) = best_of(ours, args.repeat)
            t_gl, v_gl, diff = float("nan"), float("nan"), float("nan")
            if SamplesLoss is not None:
                loss_fn = SamplesLoss("sinkhorn", p=2, blur=args.blur, scaling=0.5,
                                      backend="tensorized")

                def theirs():
                    x = torch.tensor(x0, requires_grad=True)
                    loss = loss_fn(x, torch.tensor(y0))
                    loss.backward()
                    return loss.item(), x.grad

                t_gl, (v_gl, g_gl) = best_of(theirs, args.repeat)
                diff = ((g_ours - g_gl).norm() / g_gl.norm()).item()
            print(f"{n:>7} {t_ours:>10.3f} {t_gl:>11.3f} {t_gl / t_ours:>7.2f} "
                  f"{v_ours:>12.6f} {v_gl:>11.6f} {diff:>13.2e}", flush=True)


if __name__ == "__main__":
    main()
