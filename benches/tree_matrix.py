"""Reads the feature matrix trees_bench exports (columns x0.., label, split_0..), for the peer
scripts that train on it."""
import numpy as np


def read_matrix(path, dtype):
    """Returns (split names with their train/val/test column, features, labels); empty cells are
    missing values."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=str)
    feature_cols = [i for i, h in enumerate(header) if h.startswith("x")]
    x = np.where(data[:, feature_cols] == "", "nan", data[:, feature_cols]).astype(dtype)
    y = data[:, header.index("label")].astype(dtype)
    splits = [(h, data[:, i]) for i, h in enumerate(header) if h.startswith("split_")]
    return splits, x, y
