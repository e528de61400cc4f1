"""Grid and chunk arithmetic of query.md §7: exact boundaries, no overlap, no gap, steps as fractions."""

from fractions import Fraction

import pytest

from steps.common.errors import UsageError
from steps.query.chunks import MAX_POINTS, format_seconds, grid_points, parse_step, plan_chunks

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


@pytest.mark.parametrize("points, expected_chunks, last_points", [
    (1, 1, 1), (2, 1, 2), (11_000, 1, 11_000), (11_001, 2, 1), (22_000, 2, 11_000), (22_001, 3, 1),
])
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


@pytest.mark.parametrize("text, seconds", [
    ("3", 3), ("0.5", Fraction(1, 2)), ("3s", 3), ("1m", 60), ("1m30s", 90), ("500ms", Fraction(1, 2)),
    ("2h", 7200), ("15", 15), (" 3 ", 3), ("1.25", Fraction(5, 4)),
])
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
