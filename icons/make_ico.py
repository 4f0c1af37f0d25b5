#!/usr/bin/env python3
"""Packs the hicolor PNGs into icons/icon.ico (PNG-compressed entries, as Windows Vista and
later read them). Standard library only; render.sh calls it after drawing the PNGs."""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
SIZES = [16, 24, 32, 48, 64, 256]

images = [(s, (HERE / f"hicolor/{s}x{s}/apps/dev.latchkey.app.png").read_bytes()) for s in SIZES]
header = struct.pack("<HHH", 0, 1, len(images))
offset = len(header) + 16 * len(images)
entries, blobs = b"", b""
for size, png in images:
    dim = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
    entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
    blobs += png
    offset += len(png)
(HERE / "icon.ico").write_bytes(header + entries + blobs)
