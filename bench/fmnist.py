"""bench/fmnist.py - what the PyTorch twins share: Debian's dataset-fashion-mnist read with
gzip + numpy (no torchvision), and the BLAS library the process mapped."""
import gzip
import os
import struct
import sys

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_idx(name, data_dir=DATA_DIR):
    """one ubyte IDX file (.gz) as a numpy array of its shape"""
    path = os.path.join(data_dir, name)
    if not os.path.exists(path):
        sys.exit("missing %s\n  install Fashion-MNIST with: "
                 "sudo apt-get install dataset-fashion-mnist" % path)
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, "not a ubyte IDX file: " + path
    shape = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def blas_in_use():
    """the BLAS/LAPACK shared libraries mapped into this process (Linux only)"""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "none found"
    except OSError:
        return "unknown"
