"""Trains a tiny generator with otserve as its loss: a few linear layers map
Gaussian noise to points, and the Sinkhorn divergence to samples of a mixture
of three Gaussians, computed and differentiated by the service
(otserve.torch), drives Adam. Saves the generated points beside the target.

    python3 examples/train_generator.py [--target HOST:PORT] [--steps 150]
"""
import argparse, sys

import numpy as np
import torch

import otserve.torch as ott
from _local import client


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", help="an otserve address (default: start one here)")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--epsilon", type=float, default=0.01)
    ap.add_argument("--out", default="examples/train_generator.png")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless the loss falls below 30%% of its start")
    args = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    centres = np.array([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]])
    y = torch.tensor(centres[rng.integers(0, 3, args.n)] +
                     0.15 * rng.normal(size=(args.n, 2)))
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 2)).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    with client(args.target) as c:
        for step in range(1, args.steps + 1):
            x = net(torch.randn(args.n, 2, dtype=torch.float64))
            loss = ott.sinkhorn_divergence(c, x, y, epsilon=args.epsilon)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if step % 10 == 0 or step == 1:
                print(f"step {step:4d}  S_eps = {loss.item():.5f}", flush=True)
    with torch.no_grad():
        x = net(torch.randn(args.n, 2, dtype=torch.float64)).numpy()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(3.6, 3.6))
        ax.scatter(y[:, 0], y[:, 1], s=4, c="tab:red", alpha=0.5, label="data")
        ax.scatter(x[:, 0], x[:, 1], s=4, c="tab:blue", label="generated")
        ax.set_title(f"after {args.steps} steps")
        ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        fig.savefig(args.out, dpi=90)
        print(f"saved {args.out}")
    except ImportError:
        print("matplotlib is not installed: no picture")
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    if args.check and not last < 0.3 * first:
        print(f"FAIL: loss went from {first} to {last}")
        sys.exit(1)


if __name__ == "__main__":
    main()
