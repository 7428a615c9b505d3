#!/usr/bin/env python3
"""Split the guest's framed virtio-serial output into files.

Frame format (written by initramfs/init):  b"FILE <name> <nbytes>\\n" + nbytes of data, repeated,
then b"END\\n".  Usage: unframe.py STREAM OUTDIR.  Exits non-zero if the stream is truncated or
malformed, so a capture never silently loses data.
"""
import os
import sys


def unframe(data: bytes, outdir: str) -> list[str]:
    pos, names = 0, []
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise SystemExit(f"unframe: stream ends without END marker after {names}")
        header = data[pos:nl].decode("ascii", "replace")
        pos = nl + 1
        if header == "END":
            return names
        parts = header.split(" ")
        if len(parts) != 3 or parts[0] != "FILE" or not parts[2].isdigit() or "/" in parts[1]:
            raise SystemExit(f"unframe: bad frame header {header!r} at offset {nl}")
        name, size = parts[1], int(parts[2])
        if pos + size > len(data):
            raise SystemExit(f"unframe: {name}: truncated ({len(data) - pos} of {size} bytes)")
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data[pos:pos + size])
        names.append(name)
        pos += size


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: unframe.py STREAM OUTDIR")
    with open(sys.argv[1], "rb") as f:
        files = unframe(f.read(), sys.argv[2])
    print(" ".join(files))
