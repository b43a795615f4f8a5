"""Random values drawn from the CSPRNG in blocks: fresh, well-formed, never shared by a fork."""

from __future__ import annotations

import os
import uuid
import warnings

import pytest

from xpay_auth import contract, randomness


def test_fresh_request_uuids_are_random_v4_across_blocks() -> None:
    """Past several blocks of randomness: every id a canonical v4, all distinct, every
    hex digit of the random positions seen, and each variant digit (8, 9, a, b)."""
    ids = [randomness.uuid4() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for each in ids:
        parsed = uuid.UUID(each)
        assert str(parsed) == each
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert contract.request_uuid(each) == each
    assert {each[19] for each in ids} == set("89ab")
    assert {each[0] for each in ids} == set("0123456789abcdef")


def test_a_forked_child_draws_its_own_request_uuids() -> None:
    """A child forked mid-block must not hand out the ids its parent will."""
    randomness.uuid4()  # the parent holds a block now
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads; the child only writes.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, " ".join(randomness.uuid4() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {randomness.uuid4() for _ in range(5)}
    assert len(child) == 5
    assert not child & parent


def test_tokens_are_fresh_hex_of_the_asked_size_across_blocks() -> None:
    """Enough draws to cross several 4 KiB blocks: right length, hex, never repeated."""
    values = [randomness.token_hex(16) for _ in range(1000)]
    assert len(set(values)) == len(values)
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in values)
    assert len(randomness.token_bytes(4096)) == 4096
    assert randomness.token_bytes(7) != randomness.token_bytes(7)


@pytest.mark.parametrize("size", [0, -1, 4097])
def test_sizes_a_block_cannot_serve_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="random bytes"):
        randomness.token_bytes(size)
