#!/usr/bin/env python3
"""PyTorch Geometric side of the GPU benchmark (driven by `gpu_bench`, usable on its own).

The same model as Argus's SAGE (input linear + ReLU; per layer: LayerNorm, SAGEConv with mean
aggregation and a separate root weight, ReLU, dropout, residual; output LayerNorm + linear), on
the GPU, float32, on tolokers (hidden 256) and on the random graph that `gpu_bench` wrote
(hidden 128, 64 random input features). Times full-graph inference and one training step
(forward, weighted BCE, backward, AdamW), each synchronised, median of --runs.

Usage: pyg_gpu_bench.py --tolokers DIR --edges random_edges.bin --nodes N [--runs 20]
Prints `name value` lines on stdout; progress on stderr.
"""

import argparse
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch_geometric.nn import SAGEConv  # noqa: E402


def log(msg):
    print(f"[pyg_gpu_bench] {msg}", file=sys.stderr, flush=True)


class Sage(nn.Module):
    def __init__(self, inputs, hidden, layers, dropout):
        super().__init__()
        self.inp = nn.Linear(inputs, hidden)
        self.norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(layers)])
        self.convs = nn.ModuleList([SAGEConv(hidden, hidden, aggr="mean") for _ in range(layers)])
        self.out_norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, 1)
        self.dropout = dropout

    def forward(self, x, edge_index):
        h = torch.relu(self.inp(x))
        for norm, conv in zip(self.norms, self.convs):
            z = norm(h)
            u = torch.relu(conv(z, edge_index))
            h = h + nn.functional.dropout(u, self.dropout, self.training)
        return self.out(self.out_norm(h)).squeeze(-1)


def median_ms(fn, runs):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return sorted(times)[len(times) // 2]


def bench(name, x, y, edge_index, hidden, runs):
    dev = torch.device("cuda")
    x, y, edge_index = x.to(dev), y.to(dev), edge_index.to(dev)
    n = x.shape[0]
    train = torch.zeros(n, dtype=torch.bool, device=dev)
    train[: n // 2] = True
    pos_weight = (y[train] == 0).sum() / (y[train] == 1).sum().clamp_min(1)
    weight = torch.where(y == 1, pos_weight, torch.tensor(1.0, device=dev)) * train
    model = Sage(x.shape[1], hidden, 2, 0.2).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)

    def infer():
        model.eval()
        with torch.no_grad():
            return model(x, edge_index)

    def step():
        model.train()
        opt.zero_grad()
        logits = model(x, edge_index)
        loss = (nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * weight).sum() / weight.sum()
        loss.backward()
        opt.step()

    inference = median_ms(infer, runs)
    train_step = median_ms(step, runs)
    log(f"{name}: inference {inference:.2f} ms, training step {train_step:.2f} ms")
    print(f"{name}_inference_ms {inference}")
    print(f"{name}_train_step_ms {train_step}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tolokers", required=True)
    ap.add_argument("--edges", required=True)
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 GEMMs, as Argus
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    log(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")

    def read(path):
        with open(path) as f:
            header = f.readline().strip().split(",")
            return header, [line.strip().split(",") for line in f if line.strip()]

    header, rows = read(os.path.join(args.tolokers, "nodes.csv"))
    label = header.index("label")
    feats = [i for i in range(1, len(header)) if i != label]
    index = {r[0]: i for i, r in enumerate(rows)}
    x = torch.tensor([[float(r[i]) for i in feats] for r in rows])
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-12)
    y = torch.tensor([float(r[label]) for r in rows])
    _, edges = read(os.path.join(args.tolokers, "edges.csv"))
    src = torch.tensor([index[e[0]] for e in edges])
    dst = torch.tensor([index[e[1]] for e in edges])
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    bench("tolokers", x, y, edge_index, 256, args.runs)

    raw = np.fromfile(args.edges, dtype="<u4")
    m = raw.shape[0] // 2
    edge_index = torch.from_numpy(raw.astype(np.int64).reshape(2, m))
    g = torch.Generator().manual_seed(7)
    x = torch.rand(args.nodes, 64, generator=g) * 2 - 1
    y = (torch.rand(args.nodes, generator=g) < 0.2).float()
    bench("random", x, y, edge_index, 128, args.runs)


if __name__ == "__main__":
    main()
