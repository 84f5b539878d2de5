#!/usr/bin/env python3
"""tests/png/check_png.py DIR - decodes DIR/*.png with zlib and struct alone (no dl.h
code), checks every chunk's CRC, the zlib stream, the filter bytes, and compares the
pixels with DIR/*.raw written by write_pngs.c. Prints one line per file; exit 1 on any
mismatch."""
import struct, sys, zlib, glob, os

def decode(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
    pos, idat, hdr = 8, b'', None
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(typ + body) & 0xffffffff == crc, 'CRC of ' + typ.decode()
        if typ == b'IHDR': hdr = struct.unpack('>IIBBBBB', body)
        elif typ == b'IDAT': idat += body
        elif typ == b'IEND': break
        pos += 12 + n
    w, h, depth, ctype, _, _, _ = hdr
    assert depth == 8 and ctype in (0, 2)
    c = 3 if ctype == 2 else 1
    raw = zlib.decompress(idat)
    stride = 1 + w * c
    assert len(raw) == h * stride, 'size'
    rows = []
    for y in range(h):
        assert raw[y * stride] == 0, 'filter byte'
        rows.append(raw[y * stride + 1:(y + 1) * stride])
    return w, h, c, b''.join(rows)

bad = 0
files = sorted(glob.glob(os.path.join(sys.argv[1], '*.png')))
for png in files:
    w, h, c, px = decode(png)
    with open(png[:-4] + '.raw', 'rb') as f:
        head = f.readline().split()
        want = f.read()
    ok = [w, h, c] == [int(v) for v in head] and px == want
    print(('ok  ' if ok else 'BAD ') + '%s %dx%d c=%d' % (os.path.basename(png), w, h, c))
    bad += not ok
if not files: print('no PNG files'); bad = 1
sys.exit(1 if bad else 0)
