"""Random values from the OS's CSPRNG, read in blocks, for the ones every request makes.

``os.urandom`` is a system call that releases the GIL: on the event loop each call is a point
where the read or commit threads take the interpreter, and the request waits to get it back.
A login draws three values (request uuid, ticket, token id) and a refusal one more (its tag);
a 4 KiB block serves about a hundred logins. The bytes are the kernel's, used once each; a
forked child drops its parent's block, so no two processes hand out the same values.
"""

from __future__ import annotations

import os
import threading

_BLOCK_BYTES = 4096
_VARIANT_DIGITS = "89ab" * 4


class _Pool:
    def __init__(self) -> None:
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # A fork may have copied the lock while held: the child makes its own.
        self._lock = threading.Lock()
        self._block = b""
        self._offset = 0

    def take(self, size: int) -> bytes:
        if not 0 < size <= _BLOCK_BYTES:
            raise ValueError(f"{size} random bytes asked; 1 to {_BLOCK_BYTES} served")
        with self._lock:
            if self._offset + size > len(self._block):
                self._block, self._offset = os.urandom(_BLOCK_BYTES), 0
            start = self._offset
            self._offset += size
        return self._block[start : start + size]


_pool = _Pool()


def token_bytes(size: int) -> bytes:
    return _pool.take(size)


def token_hex(size: int) -> str:
    """``size`` random bytes as ``2 * size`` lowercase hex digits, as ``secrets.token_hex``."""
    return _pool.take(size).hex()


def uuid4() -> str:
    """A random UUID version 4 (RFC 9562 section 5.4) in its canonical text form."""
    text = _pool.take(16).hex()
    # Version 4 in the 13th digit; variant 10 in the top bits of the 17th (8, 9, a or b).
    variant = _VARIANT_DIGITS[int(text[16], 16)]
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"
