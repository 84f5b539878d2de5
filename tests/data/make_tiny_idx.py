#!/usr/bin/python3
"""Writes the IDX test files of tests/test_io.c (run from the repository root):
    tests/data/tiny-idx3-ubyte            uncompressed IDX, ubyte, shape [4, 8, 8]
    tests/data/tiny-idx3-ubyte.gz         the same, gzip level 9 (Huffman-coded blocks)
    tests/data/tiny-idx3-ubyte.stored.gz  the same, gzip level 0 (stored blocks)
    tests/data/tiny-idx3-ubyte.fixed.gz   the same, zlib's Z_FIXED (fixed Huffman codes)
Byte i of the data, at image k = i // 64, row r = i // 8 % 8, column c = i % 8, is
(r * c + 5 * k) % 23 * 11: repeats, so level 9 codes it with dynamic Huffman tables and
back-references. The gzip headers carry mtime 0 and no file name, so the output is the
same on every run. test_io.c computes the same formula.
"""
import gzip
import struct
import zlib

SHAPE = (4, 8, 8)


def main():
    n = SHAPE[0] * SHAPE[1] * SHAPE[2]
    data = bytes(((i // 8 % 8) * (i % 8) + 5 * (i // 64)) % 23 * 11 for i in range(n))
    raw = struct.pack(">HBB", 0, 0x08, len(SHAPE)) + struct.pack(">3I", *SHAPE) + data
    with open("tests/data/tiny-idx3-ubyte", "wb") as f:
        f.write(raw)
    for name, level in (("tiny-idx3-ubyte.gz", 9), ("tiny-idx3-ubyte.stored.gz", 0)):
        with open("tests/data/" + name, "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=f, mtime=0) as g:
                g.write(raw)
    z = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_FIXED)  # wbits 31: gzip wrapper
    with open("tests/data/tiny-idx3-ubyte.fixed.gz", "wb") as f:
        f.write(z.compress(raw) + z.flush())


if __name__ == "__main__":
    main()
