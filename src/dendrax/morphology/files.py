"""Opening a reconstruction file: clear errors for a missing file, a folder, a binary file."""

from __future__ import annotations

from pathlib import Path

_TEXT_CONTROLS = {9, 10, 12, 13}
"""Tab, newline, form feed and carriage return: the control bytes a text file has."""


def read_text(path, kind: str, suffix: str) -> tuple[Path, str]:
    """The path and text of a reconstruction file of `kind` ("SWC", "ASC").

    Bytes that are not UTF-8 (a comment in another encoding) are read as Latin-1, so that
    the sample lines still parse and a bad one is named by its line.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: `path` is a folder (the message
            lists `suffix` files in it). ValueError: a binary file (zero or control bytes).
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix.lower() == suffix)
        listing = f"; {suffix} files in it: {', '.join(found[:5])}" if found else ""
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise IsADirectoryError(f"{path} is a folder, not an {kind} file{listing}{more}")
    if not path.is_file():
        raise FileNotFoundError(f"{kind} file not found: {path}")
    data = path.read_bytes()
    head = data[:4096]
    controls = sum(1 for byte in head if byte < 32 and byte not in _TEXT_CONTROLS)
    if b"\0" in head or controls > 0.01 * len(head):
        raise ValueError(
            f"{path}: not a text file ({controls} control bytes in its first {len(head)}): an "
            f"{kind} file is text; is it compressed or in another format?"
        )
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError:
        return path, data.decode("latin-1")
