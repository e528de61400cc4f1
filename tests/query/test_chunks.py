"""Grid and chunk arithmetic of query.md §7: exact boundaries, no overlap, no gap, steps as fractions."""

from fractions import Fraction

import pytest

from steps.common.errors import UsageError
from steps.query.chunks import (
    DEFAULT_MAX_SERIES_POINTS,
    MAX_POINTS,
    check_points,
    format_seconds,
    grid_points,
    parse_step,
    plan_chunks,
    smallest_step,
)

T0 = 1_700_000_000


def covered(chunks, start, step):
    """Every grid index each chunk covers, in order."""
    indices = []
    for chunk in chunks:
        assert chunk.start == start + chunk.first_index * step
        assert chunk.end == start + chunk.last_index * step
        assert chunk.points <= MAX_POINTS
        indices.extend(range(chunk.first_index, chunk.last_index + 1))
    return indices


@pytest.mark.parametrize(
    "points, expected_chunks, last_points",
    [
        (1, 1, 1),
        (2, 1, 2),
        (11_000, 1, 11_000),
        (11_001, 2, 1),
        (22_000, 2, 11_000),
        (22_001, 3, 1),
    ],
)
def test_chunk_boundaries_at_the_point_limit(points, expected_chunks, last_points):
    step = Fraction(3)
    end = T0 + (points - 1) * 3
    assert grid_points(Fraction(T0), Fraction(end), step) == points
    chunks = plan_chunks(T0, end, step)
    assert len(chunks) == expected_chunks
    assert chunks[-1].points == last_points
    assert covered(chunks, T0, step) == list(range(points))  # no overlap, no gap
    assert chunks[0].start == T0 and chunks[-1].end == end


def test_end_off_grid_is_floored():
    # (end - start) / step = 10.67 -> K = 10, 11 points, last point 30 s, not 32 s
    chunks = plan_chunks(T0, T0 + 32, Fraction(3))
    assert len(chunks) == 1 and chunks[0].points == 11 and chunks[0].end == T0 + 30


def test_fractional_step_half_second():
    step = parse_step("0.5")
    end = T0 + 6000  # 12001 points
    chunks = plan_chunks(T0, end, step)
    assert [c.points for c in chunks] == [11_000, 1001]
    assert chunks[0].end == T0 + Fraction(10_999, 2)
    assert format_seconds(chunks[0].end) == "1700005499.5"
    assert format_seconds(chunks[1].start) == "1700005500"
    assert covered(chunks, T0, step) == list(range(12_001))


def test_step_one_second_over_long_window():
    chunks = plan_chunks(T0, T0 + 30_000, Fraction(1))
    assert [c.points for c in chunks] == [11_000, 11_000, 8_001]
    assert chunks[1].start == chunks[0].end + 1


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("3", 3),
        ("0.5", Fraction(1, 2)),
        ("3s", 3),
        ("1m", 60),
        ("1m30s", 90),
        ("500ms", Fraction(1, 2)),
        ("2h", 7200),
        ("15", 15),
        (" 3 ", 3),
        ("1.25", Fraction(5, 4)),
    ],
)
def test_parse_step(text, seconds):
    assert parse_step(text) == seconds


@pytest.mark.parametrize("text", ["0", "-3", "abc", "", "3x", "0s", "1.5s", "--1"])
def test_parse_step_rejects(text):
    with pytest.raises(UsageError, match="--step"):
        parse_step(text)


def test_format_seconds():
    assert format_seconds(Fraction(3)) == "3"
    assert format_seconds(Fraction(1, 2)) == "0.5"
    assert format_seconds(Fraction(T0) + Fraction(1, 8)) == "1700000000.125"


def test_an_absurd_step_is_refused_with_the_points_and_the_smallest_step():
    """0.0000001 s over an hour would plan 3.3 million requests per metric before sending one."""
    with pytest.raises(UsageError) as refused:
        check_points(T0, T0 + 3600, parse_step("0.0000001"))
    assert str(refused.value) == (
        "--step 0.0000001 over the 3600 s window needs 36,000,000,001 points per series, "
        "more than --max-points 1,000,000; the smallest step allowed for this window is "
        "0.003601 s (or raise --max-points)"
    )
    assert check_points(T0, T0 + 86400, Fraction(3)) == 28801  # a day at 3 s is far inside the default
    assert check_points(T0, T0 + 3600, parse_step("0.0000001"), max_points=36_000_000_001) == 36_000_000_001
    assert DEFAULT_MAX_SERIES_POINTS == 1_000_000


@pytest.mark.parametrize(
    "length, max_points",
    [
        (3600, 1_000_000),
        (600, 1000),
        (86400, 1_000_000),
        (1, 1_000_000),
        (10**9, 10),
        (3600, 2),
        (3600, 1),
        (7, 3),
        (599, 7),
    ],
)
def test_smallest_step_is_short_allowed_and_tight(length, max_points):
    step = smallest_step(Fraction(length), max_points)
    assert grid_points(Fraction(0), Fraction(length), step) <= max_points  # allowed
    assert len(format_seconds(step).replace(".", "").strip("0")) <= 4  # easy to type
    if max_points > 1:
        assert step < Fraction(length, max_points - 1) * Fraction(1001, 1000)  # within 0.1 % of the exact bound
