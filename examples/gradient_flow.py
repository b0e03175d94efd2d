"""Wasserstein gradient flow of the Sinkhorn divergence, computed by otserve:
a uniform square of points flows onto a ring by explicit Euler steps
x <- x - lr * n * grad_x S_eps(x, y), the gradients returned by the service
(GeomLoss's classic demonstration; the n rescales the gradient of a point of
mass 1/n to a velocity). Saves a picture of the flow at four times.

    python3 examples/gradient_flow.py [--target HOST:PORT] [--n 400] [--steps 40]
"""
import argparse, sys

import numpy as np

from _local import client


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", help="an otserve address (default: start one here)")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--epsilon", type=float, default=0.01)
    ap.add_argument("--out", default="examples/gradient_flow.png")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless the divergence falls below 20%% of its start")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, size=(args.n, 2))
    angle = rng.uniform(0, 2 * np.pi, args.n)
    radius = 1.0 + 0.1 * rng.normal(size=args.n)
    y = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    snaps = {0: x.copy()}
    keep = {args.steps // 4, args.steps // 2, args.steps}
    values = []
    with client(args.target) as c:
        for step in range(1, args.steps + 1):
            r = c.divergence(x, y, epsilon=args.epsilon, return_gradients=True)
            values.append(r.value)
            x = x - args.lr * args.n * r.gradients["source_points"]
            if step in keep:
                snaps[step] = x.copy()
            print(f"step {step:3d}  S_eps = {r.value:.6f}  "
                  f"iterations {r.diagnostics['iterations']}", flush=True)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(snaps), figsize=(3 * len(snaps), 3.2))
        for ax, (step, pts) in zip(axes, sorted(snaps.items())):
            ax.scatter(y[:, 0], y[:, 1], s=4, c="tab:red", alpha=0.4, label="target")
            ax.scatter(pts[:, 0], pts[:, 1], s=4, c="tab:blue", label="flowing")
            ax.set_title(f"t = {step * args.lr:.1f}")
            ax.set_xlim(-1.4, 1.4)
            ax.set_ylim(-1.4, 1.4)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        fig.savefig(args.out, dpi=90)
        print(f"saved {args.out}")
    except ImportError:
        print("matplotlib is not installed: no picture")
    if args.check and not values[-1] < 0.2 * values[0]:
        print(f"FAIL: S_eps went from {values[0]} to {values[-1]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
