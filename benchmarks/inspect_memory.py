"""Memory of `tfrconv inspect`'s statistics against the number of records (tracemalloc peak).

    python benchmarks/inspect_memory.py [--counts 1000,10000,100000]

The test suite checks only that the inspector's containers stop growing
(tests/test_inspect.py); this measures what that means in bytes: the peak of Python
allocations while `Inspector` takes N decoded examples (no image bytes), per N.
"""

from __future__ import annotations

import argparse
import tracemalloc

from tfrconv import keys as K
from tfrconv.inspect import Inspector


def example(i: int, objects: int = 3) -> dict:
    box = [0.1 + (i % 7) / 100] * objects
    return {
        K.SOURCE_ID: ("bytes", [f"{i:08d}.jpg".encode()]),
        K.FILENAME: ("bytes", [f"{i:08d}.jpg".encode()]),
        K.HEIGHT: ("int", [375]), K.WIDTH: ("int", [500]),
        K.FORMAT: ("bytes", [b"jpeg"]),
        K.OBJECT_BBOX_XMIN: ("float", box), K.OBJECT_BBOX_YMIN: ("float", box),
        K.OBJECT_BBOX_XMAX: ("float", [b + 0.2 + (i % 11) / 100 for b in box]),
        K.OBJECT_BBOX_YMAX: ("float", [b + 0.3 for b in box]),
        K.OBJECT_CLASS_TEXT: ("bytes", [b"dog"] * objects),
        K.OBJECT_CLASS_LABEL: ("int", [12] * objects),
    }


def peak_bytes(count: int) -> int:
    inspector = Inspector()
    tracemalloc.start()
    for i in range(count):
        inspector.add(example(i))
    inspector.result()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    counts = [int(c) for c in parser.parse_args().counts.split(",")]
    first = None
    for count in counts:
        peak = peak_bytes(count)
        first = first or peak
        print(f"{count:>8} examples: peak {peak / 1e6:6.2f} MB ({peak / first:.2f}x the first)")


if __name__ == "__main__":
    main()
