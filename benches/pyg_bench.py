#!/usr/bin/env python3
"""PyTorch Geometric side of the GNN benchmark (driven by `gnn_bench`, usable on its own).

Builds the same model as Argus's SAGE (input linear + ReLU; per layer: LayerNorm, SAGEConv with
mean aggregation and separate root weight, ReLU, dropout, residual; output LayerNorm + linear)
on tolokers and times full-graph inference and one full-batch training step (forward, weighted
BCE, backward, AdamW) on the CPU.

Usage: pyg_bench.py DATA_DIR [--threads 2] [--hidden 64 256] [--runs 20]
Progress goes to stderr; one JSON object goes to stdout.
"""

import argparse
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch_geometric.nn import SAGEConv  # noqa: E402


def log(msg):
    print(f"[pyg_bench] {msg}", file=sys.stderr, flush=True)


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


def read(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    return header, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    header, rows = read(os.path.join(args.data, "nodes.csv"))
    label = header.index("label")
    feats = [i for i in range(1, len(header)) if i != label]
    index = {r[0]: i for i, r in enumerate(rows)}
    x = torch.tensor([[float(r[i]) for i in feats] for r in rows])
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-12)
    y = torch.tensor([float(r[label]) for r in rows])
    _, edges = read(os.path.join(args.data, "edges.csv"))
    src = torch.tensor([index[e[0]] for e in edges])
    dst = torch.tensor([index[e[1]] for e in edges])
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    n = x.shape[0]
    train = torch.zeros(n, dtype=torch.bool)
    train[: n // 2] = True
    pos_weight = (y[train] == 0).sum() / (y[train] == 1).sum()
    weight = torch.where(y == 1, pos_weight, torch.tensor(1.0)) * train
    log(f"{n} nodes, {edge_index.shape[1]} messages, torch {torch.__version__}, {args.threads} threads")

    out = {"torch": torch.__version__, "threads": args.threads, "runs": {}}
    for hidden in args.hidden:
        model = Sage(x.shape[1], hidden, 2, 0.2)
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

        timings = {}
        for name, fn in (("inference", infer), ("train_step", step)):
            for _ in range(3):
                fn()
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                fn()
                times.append((time.perf_counter() - start) * 1000.0)
            timings[name] = times
            log(f"hidden {hidden}: {name} median {sorted(times)[len(times) // 2]:.1f} ms")
        out["runs"][str(hidden)] = timings
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
