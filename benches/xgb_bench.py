"""XGBoost side of trees_bench: the same feature matrix, splits and hyperparameters as Argus's
boosted trees, trained once per split on 2 threads. Prints one JSON object per split."""
import json
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from tree_matrix import read_matrix


def main():
    path, params_path = sys.argv[1], sys.argv[2]
    p = json.load(open(params_path))
    splits, x, y = read_matrix(path, np.float32)
    for name, part in splits:
        train, val, test = (np.where(part == s)[0] for s in ("train", "val", "test"))
        pos = y[train].sum()
        params = {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "tree_method": "hist",
            "max_bin": 255,
            "max_depth": p["max_depth"],
            "eta": p["learning_rate"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample"],
            "min_child_weight": p["min_child_weight"],
            "lambda": p["lambda"],
            "scale_pos_weight": (len(train) - pos) / pos,
            "nthread": 2,
            "seed": 0,
        }
        dtrain = xgb.DMatrix(x[train], label=y[train])
        dval = xgb.DMatrix(x[val], label=y[val])
        started = time.perf_counter()
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=p["trees"],
            evals=[(dval, "val")],
            early_stopping_rounds=p["patience"],
            verbose_eval=False,
        )
        seconds = time.perf_counter() - started
        best = booster.best_iteration + 1
        scores = booster.predict(xgb.DMatrix(x[test]), iteration_range=(0, best))
        print(json.dumps({
            "split": name,
            "test_auc": float(roc_auc_score(y[test], scores)),
            "trees": best,
            "seconds": seconds,
        }), flush=True)


main()
