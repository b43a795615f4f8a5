"""The frames a py-spy profile spends its samples in: ``bench/top_frames.py FILE.txt [N]``.

Reads collapsed stacks (``py-spy record --format raw``: one line per stack, frames joined by
``;``, then the sample count) and prints the top N frames by self samples (the frame itself
was running) and by total samples (the frame was on the stack), as shares of all samples.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def shares(lines: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        # py-spy names processes and threads as the first frames: keep Python frames only.
        frames = [frame for frame in stack.split(";") if "(" in frame and ")" in frame]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return total, own, inclusive


def main() -> None:
    path = Path(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25  # noqa: PLR2004  path and N
    total, own, inclusive = shares(path.read_text().splitlines())
    for title, counts in (("self", own), ("total", inclusive)):
        print(f"\n{title} ({total} samples)")
        for frame, samples in counts.most_common(top):
            print(f"{samples / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
