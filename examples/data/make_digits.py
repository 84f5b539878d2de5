#!/usr/bin/python3
"""Write examples/data/digits.txt from scikit-learn's bundled copy of the UCI 8x8 digits.

Usage (from the repository root; needs scikit-learn, e.g. Debian's python3-sklearn):
    /usr/bin/python3 examples/data/make_digits.py [out_path]

Format (plain text, parsed by examples/02_digits.c with nothing but fscanf):
    line 1: "1797 64 10"   (samples, features, classes)
    then one line per sample: 64 integers in 0..16 (the 8x8 image, row by row), then
    the label 0..9, separated by single spaces.
The samples keep sklearn's order. See README.md here for the source and its terms.
"""
import os
import sys

from sklearn.datasets import load_digits


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "digits.txt")
    d = load_digits()
    x, y = d.data, d.target
    n, f = x.shape
    k = int(y.max()) + 1
    assert (n, f, k) == (1797, 64, 10), (n, f, k)
    lines = ["%d %d %d" % (n, f, k)]
    for row, label in zip(x, y):
        vals = [int(v) for v in row]
        assert all(0 <= v <= 16 and v == w for v, w in zip(vals, row))
        lines.append(" ".join(str(v) for v in vals) + " %d" % int(label))
    with open(out, "w", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
    print("wrote %s: %d samples, %d features, %d classes" % (out, n, f, k))


if __name__ == "__main__":
    main()
