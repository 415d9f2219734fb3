"""Peer side of recs_bench: `implicit` ALS and BPR on the exact split Argus evaluates on.

Reads DIR/train.csv and DIR/test.csv (`user,item` dense indexes, written by recs_bench) and
DIR/shape.json ({"users": U, "items": I}); fits each model on train with the settings of
../shared/data/README.md and ranks every item the user has not interacted with in train.
Prints one JSON object per model: recall and ndcg at K, fit seconds.
"""
import json
import math
import sys
import time

import numpy as np
import scipy.sparse as sp
import implicit
from threadpoolctl import threadpool_limits


def read_pairs(path):
    users, items = [], []
    with open(path) as f:
        next(f)
        for line in f:
            u, i = line.split(",")
            users.append(int(u))
            items.append(int(i))
    return np.array(users), np.array(items)


def main():
    work, k, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    shape = json.load(open(f"{work}/shape.json"))
    n_users, n_items = shape["users"], shape["items"]
    tu, ti = read_pairs(f"{work}/train.csv")
    train = sp.csr_matrix((np.ones(len(tu), dtype=np.float32), (tu, ti)), shape=(n_users, n_items))
    train.data[:] = 1.0  # binary, as Argus fits
    eu, ei = read_pairs(f"{work}/test.csv")
    test = {}
    for u, i in zip(eu, ei):
        test.setdefault(int(u), set()).add(int(i))
    models = {
        "implicit ALS": lambda: implicit.cpu.als.AlternatingLeastSquares(
            factors=64, regularization=0.05, iterations=15, random_state=42, num_threads=threads
        ),
        "implicit BPR": lambda: implicit.cpu.bpr.BayesianPersonalizedRanking(
            factors=64, iterations=100, random_state=42, num_threads=threads
        ),
    }
    users = sorted(u for u in test if test[u] - set(train[u].indices))
    for name, make in models.items():
        model = make()
        # implicit parallelises itself; its own advice is a single-threaded BLAS underneath.
        with threadpool_limits(1, "blas"):
            started = time.perf_counter()
            model.fit(train, show_progress=False)
            seconds = time.perf_counter() - started
        ids, _ = model.recommend(
            np.array(users), train[users], N=k, filter_already_liked_items=True
        )
        recall = ndcg = 0.0
        for row, u in enumerate(users):
            relevant = test[u] - set(train[u].indices)
            ideal = min(len(relevant), k)
            hits = [1 if int(i) in relevant else 0 for i in ids[row][:k]]
            recall += sum(hits) / ideal
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            ndcg += dcg / sum(1 / math.log2(r + 2) for r in range(ideal))
        print(json.dumps({
            "model": name,
            "recall": recall / len(users),
            "ndcg": ndcg / len(users),
            "seconds": seconds,
            "users": len(users),
        }), flush=True)


if __name__ == "__main__":
    main()
