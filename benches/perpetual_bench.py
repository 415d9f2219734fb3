"""Perpetual side of trees_bench: the maintained Rust gradient-boosting crate (`perpetual`,
driven through its Python package, which wraps the same Rust core) on the same feature matrix
and splits as Argus's boosted trees. Perpetual has no learning rate, depth or early-stopping
settings to match: its one knob is `budget`. Trained on the training rows only, 2 threads.
Prints one JSON object per split."""
import json
import sys
import time

import numpy as np
from perpetual import PerpetualBooster
from sklearn.metrics import roc_auc_score
from tree_matrix import read_matrix


def main():
    path, budget = sys.argv[1], float(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    splits, x, y = read_matrix(path, np.float64)
    for name, part in splits[:limit]:
        train, test = (np.where(part == s)[0] for s in ("train", "test"))
        model = PerpetualBooster(objective="LogLoss", budget=budget, num_threads=2)
        started = time.perf_counter()
        model.fit(x[train], y[train])
        seconds = time.perf_counter() - started
        proba = model.predict_proba(x[test])
        scores = proba[:, 1] if proba.ndim == 2 else proba
        print(json.dumps({
            "split": name,
            "test_auc": float(roc_auc_score(y[test], scores)),
            "trees": len(model.get_node_lists()) if hasattr(model, "get_node_lists") else 0,
            "seconds": seconds,
        }), flush=True)


main()
