"""Background reading and writing keep order and surface errors in the caller."""

from __future__ import annotations

import pytest

from drgkit.io.pipeline import BackgroundWriter, prefetch


def test_prefetch_keeps_order_and_all_items() -> None:
    assert list(prefetch(range(1000), depth=2)) == list(range(1000))


def test_prefetch_reraises_the_producer_error() -> None:
    def items():
        yield 1
        raise ValueError("bad batch 2")

    got = []
    with pytest.raises(ValueError, match="bad batch 2"):
        for x in prefetch(items()):
            got.append(x)
    assert got == [1]


def test_background_writer_writes_in_order_and_reports_errors() -> None:
    seen: list[int] = []
    w = BackgroundWriter(seen.append)
    for i in range(500):
        w.submit(i)
    w.close()
    assert seen == list(range(500))

    def fail(x: int) -> None:
        if x == 3:
            raise OSError("disk full")

    w = BackgroundWriter(fail)
    with pytest.raises(OSError, match="disk full"):
        for i in range(10):
            w.submit(i)
        w.close()


def test_ordered_map_keeps_input_order_with_two_workers() -> None:
    import random
    import time

    from drgkit.io.pipeline import ordered_map

    def slow_square(x: int) -> int:
        time.sleep(random.random() / 500)  # finish out of order
        return x * x

    assert list(ordered_map(slow_square, range(200), workers=2)) == [x * x for x in range(200)]


def test_ordered_map_reraises_worker_errors() -> None:
    from drgkit.io.pipeline import ordered_map

    def f(x: int) -> int:
        if x == 5:
            raise ValueError("bad batch 5")
        return x

    with pytest.raises(ValueError, match="bad batch 5"):
        list(ordered_map(f, range(20), workers=2))
