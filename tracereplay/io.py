"""Read input files: paths, '-' for stdin, and gzip/xz/zstd/bzip2 detected by magic bytes.

The reader only turns bytes into text; it never looks at what the text means. Bytes that are not
UTF-8 (task names copied from user space can hold anything) become U+FFFD so a parse never stops
on them.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import sys

from .errors import InputError

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
)


def compression_of(head: bytes) -> str | None:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def _decompress(data: bytes, kind: str, path: str) -> bytes:
    try:
        if kind == "gzip":
            return gzip.decompress(data)
        if kind == "xz":
            return lzma.decompress(data)
        if kind == "bzip2":
            return bz2.decompress(data)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except Exception as e:  # every codec has its own exception types
        raise InputError(path, f"cannot decompress {kind} data: {e}") from None


def read_bytes(path: str) -> bytes:
    """The file's bytes, decompressed when its magic bytes say so."""
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        if os.path.isdir(path):
            raise InputError(path, "is a directory, not a trace file")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise InputError(path, "no such file") from None
        except OSError as e:
            raise InputError(path, f"cannot read: {e.strerror}") from None
    kind = compression_of(data[:8])
    if kind:
        data = _decompress(data, kind, path)
    if b"\x00" in data[:65536]:
        raise InputError(path, "binary file (NUL bytes), not text", line=_line_of(data, data.index(b"\x00")))
    return data


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_text(path: str) -> str:
    """The file as text: decompressed, decoded as UTF-8 with undecodable bytes replaced."""
    return read_bytes(path).decode("utf-8", errors="replace")


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path
