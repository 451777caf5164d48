"""Files the controller writes that others read at any moment (a DNS server polling its zone,
node_exporter's textfile collector): replaced atomically, never seen half written."""

from __future__ import annotations

import os
import tempfile


def replace_file(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, rename it over `path`, then
    fsync the directory so the rename itself survives a crash (or the old file comes back)."""
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
