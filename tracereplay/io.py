"""Read input files: paths, '-' for stdin, and gzip/xz/zstd/bzip2 detected by magic bytes.

The reader only hands over bytes (``iter_bytes``, in blocks cut after a newline, for the parser)
or text (``read_text``); it never looks at what they mean. Bytes that are not UTF-8 (task names
copied from user space can hold anything) become U+FFFD, here and in the parser's line
splitter, so a parse never stops on them.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

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


def _open_stream(path: str) -> tuple[BinaryIO, str | None]:
    """A binary stream of the file's decompressed bytes (the compression chosen by magic)."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        if os.path.isdir(path):
            raise InputError(path, "is a directory, not a trace file")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - handed to the caller, closed there
        except FileNotFoundError:
            raise InputError(path, "no such file") from None
        except OSError as e:
            raise InputError(path, f"cannot read: {e.strerror}") from None
    buf = io.BufferedReader(raw) if not hasattr(raw, "peek") else raw
    kind = compression_of(buf.peek(8)[:8])
    if kind == "gzip":
        return gzip.GzipFile(fileobj=buf), kind
    if kind == "xz":
        return lzma.LZMAFile(buf), kind
    if kind == "bzip2":
        return bz2.BZ2File(buf), kind
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(buf, read_across_frames=True), kind
    return buf, None


def iter_bytes(path: str, block: int = 8 << 20) -> Iterator[bytes]:
    """The file's decompressed bytes in blocks of about ``block`` bytes, each cut after a
    newline (the last perhaps not): large traces are never held whole."""
    stream, kind = _open_stream(path)
    try:
        rest = b""
        first = True
        while True:
            try:
                data = stream.read(block)
            except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
                raise InputError(path, f"cannot decompress {kind or 'input'} data: {e}") from None
            if first:
                if b"\x00" in data[:65536]:
                    raise InputError(path, "binary file (NUL bytes), not text", line=_line_of(data, data.index(b"\x00")))
                first = False
            if not data:
                if rest:
                    yield rest
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            yield data[:cut]
    finally:
        if path != "-":
            stream.close()


def read_text(path: str) -> str:
    """The file as text: decompressed, decoded as UTF-8 with undecodable bytes replaced."""
    return read_bytes(path).decode("utf-8", errors="replace")


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path
