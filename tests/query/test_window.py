"""Time-window resolution of query.md §3 with an injected clock and window reader."""

from datetime import datetime, timezone
from fractions import Fraction

import pytest

from steps.common.errors import StepError, UsageError
from steps.query.window import WindowRequest, check_request, resolve_window, short_window_warning

NOW = datetime(2024, 7, 25, 22, 5, 43, 987654, tzinfo=timezone.utc)


def clock():
    return NOW


def no_reader(name):
    raise AssertionError("the window file must not be read")


def test_start_and_end():
    window = resolve_window(
        WindowRequest(benchmark="stressng", start_time="2024-07-25T21:05:43Z", end_time="2024-07-25T22:05:43Z"),
        "kepler_query",
        clock,
        no_reader,
    )
    assert window.start == datetime(2024, 7, 25, 21, 5, 43, tzinfo=timezone.utc)
    assert window.end_epoch - window.start_epoch == 3600
    assert window.benchmark == "stressng" and window.save


def test_benchmark_alone_uses_interval_ending_now_truncated():
    window = resolve_window(WindowRequest(benchmark="idle", interval=100), "idle_kepler_query", clock, no_reader)
    assert window.end == datetime(2024, 7, 25, 22, 5, 43, tzinfo=timezone.utc)
    assert (window.end - window.start).total_seconds() == 100 and window.save


def test_input_reads_the_file_and_ignores_the_rest_with_a_warning():
    read = []

    def reader(name):
        read.append(name)
        return datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, 1, tzinfo=timezone.utc)

    request = WindowRequest(
        input="stressng.json",
        benchmark="other",
        start_time="2024-07-25T21:05:43Z",
        end_time="2024-07-25T22:05:43Z",
        interval=50,
        interval_given=True,
    )
    window = resolve_window(request, "kepler_query", clock, reader)
    assert read == ["stressng"] and window.benchmark == "stressng" and not window.save
    assert "--benchmark, --start-time, --end-time, --interval ignored" in window.warnings[0]


def test_input_file_errors_propagate():
    def reader(name):
        raise StepError(f"time-window file {name}.json does not exist")

    with pytest.raises(StepError, match="missing.json"):
        resolve_window(WindowRequest(input="missing"), "out", clock, reader)


@pytest.mark.parametrize(
    "request_, message",
    [
        (WindowRequest(), "--input .*--benchmark"),
        (
            WindowRequest(benchmark="b", start_time="2024-07-25T21:05:43Z"),
            "--start-time 2024-07-25T21:05:43Z .*--end-time",
        ),
        (
            WindowRequest(benchmark="b", end_time="2024-07-25T21:05:43Z"),
            "--end-time 2024-07-25T21:05:43Z .*--start-time",
        ),
        (
            WindowRequest(benchmark="b", start_time="2024-07-25 21:05:43", end_time="2024-07-25T22:05:43Z"),
            "--start-time '2024-07-25 21:05:43'",
        ),
        (
            WindowRequest(benchmark="b", start_time="2024-07-25T21:05:43Z", end_time="2024-07-25T22:05:43+00:00"),
            "--end-time",
        ),
        (WindowRequest(benchmark="b", start_time="2024-07-25T22:05:43Z", end_time="2024-07-25T21:05:43Z"), "not after"),
        (WindowRequest(benchmark="b", start_time="2024-07-25T22:05:43Z", end_time="2024-07-25T22:05:43Z"), "not after"),
        (WindowRequest(benchmark="kepler_query"), "must differ"),
        (WindowRequest(input="kepler_query.json"), "must differ"),
    ],
)
def test_usage_errors(request_, message):
    with pytest.raises(UsageError, match=message):
        check_request(request_, "kepler_query")


def test_empty_strings_mean_not_set():
    window = resolve_window(
        WindowRequest(input="", benchmark="b", start_time="", end_time="", interval=60), "out", clock, no_reader
    )
    assert window.save and (window.end - window.start).total_seconds() == 60


def test_short_window_warns():
    window = resolve_window(WindowRequest(benchmark="b", interval=5), "out", clock, no_reader)
    assert "shorter than two steps" in short_window_warning(window, Fraction(3))
    assert short_window_warning(window, Fraction(5, 2)) is None
