"""`make test-parallel`: each pytest-xdist worker draws its test ports from a slice of the range of its own."""

from __future__ import annotations

import pytest

from tests.support.stores import _PORT_RANGE, worker_port_range


@pytest.mark.parametrize(("worker", "workers"), [("", ""), ("master", "2"), ("gw0", ""), ("gw0", "0")])
def test_outside_xdist_the_whole_range_is_used(worker: str, workers: str) -> None:
    assert worker_port_range(worker, workers) == _PORT_RANGE


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_the_workers_slices_are_disjoint_and_inside_the_range(count: int) -> None:
    slices = [worker_port_range(f"gw{index}", str(count)) for index in range(count)]
    ports = [set(range(*bounds)) for bounds in slices]
    assert all(_PORT_RANGE[0] <= low < high <= _PORT_RANGE[1] for low, high in slices)
    assert sum(len(p) for p in ports) == len(set().union(*ports))  # no port in two slices
    assert all(len(p) >= (_PORT_RANGE[1] - _PORT_RANGE[0]) // 8 for p in ports)
