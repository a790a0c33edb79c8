"""Bandwidth traces: transfer times integrated over the trace, seeded synthetic traces, CSV layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import InvalidRequest
from server.labs.abr_traces import BandwidthTrace, parse_trace, read_csv, resolve, synthetic


def test_a_transfer_spanning_a_throughput_change_integrates_over_both() -> None:
    trace = BandwidthTrace("two", (0.0, 1.0), (8.0, 1.0), tail_s=9.0)
    # 1 MB = 8 Mbit: 1 s at 8 Mbit/s moves it all; 1.5 MB needs 1 s at 8 then 4 s at 1 Mbit/s.
    assert trace.transfer_s(0.0, 1_000_000) == pytest.approx(1.0)
    assert trace.transfer_s(0.0, 1_500_000) == pytest.approx(5.0)
    assert trace.transfer_s(10.0, 1_000_000) == pytest.approx(1.0)      # looped: 10 s is 0 s again


def test_synthetic_traces_are_seeded_and_named_specs_parse() -> None:
    assert synthetic("mobile", 3) == synthetic("mobile", 3) != synthetic("mobile", 4)
    assert synthetic("steps", 1).mean_mbps() > 0
    assert synthetic("steady:800k", 1).mbps == (0.8,)
    assert synthetic("steady:5M", 1).mbps == (5.0,)
    with pytest.raises(InvalidRequest, match="Unknown trace 'dialup'"):
        synthetic("dialup", 1)


def test_a_headed_csv_in_kbit_s(tmp_path: Path) -> None:
    path = tmp_path / "walk.csv"
    path.write_text("timestamp,throughput_kbps\n100,2000\n101,500\n103,1000\n")
    trace = read_csv(path)
    assert trace.times == (0.0, 1.0, 3.0) and trace.mbps == (2.0, 0.5, 1.0)
    assert trace.name == "walk.csv"


def test_the_pensieve_cooked_layout_seconds_and_mbit_s_without_header() -> None:
    text = "0.0\t1.2\n1.0\t0.8\n2.0\t3.4\n"     # e.g. the FCC / Norway 3G "cooked" traces
    trace = parse_trace(text, "norway_bus_1")
    assert trace.times == (0.0, 1.0, 2.0) and trace.mbps == (1.2, 0.8, 3.4)


def test_the_norway_hsdpa_raw_log_layout() -> None:
    # unix time, ms since start, latitude, longitude, bytes received, ms taken
    text = ("1289406399 0 59.851754 10.781778 125000 1000\n"
            "1289406400 1000 59.851755 10.781779 250000 1000\n")
    trace = parse_trace(text, "report.log")
    assert trace.times == (0.0, 1.0) and trace.mbps == pytest.approx((1.0, 2.0))


def test_a_bad_row_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,mbps\n0,1\n1,fast\n")
    with pytest.raises(InvalidRequest, match=r"bad.csv, line 3: column 2 is 'fast'"):
        read_csv(path)
    with pytest.raises(InvalidRequest, match=r"line 3: the time goes backwards"):
        parse_trace("time,mbps\n5,1\n2,1\n", "back.csv")
    with pytest.raises(InvalidRequest, match="needs a time column"):
        parse_trace("when,speed\n0,1\n", "odd.csv")
    with pytest.raises(InvalidRequest, match="never carries any data"):
        parse_trace("0 0\n1 0\n", "dead.txt")


def test_a_missing_file_is_neither_a_trace_nor_a_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="neither a built-in trace nor a file"):
        resolve(str(tmp_path / "nope.csv"), 1)
    with pytest.raises(InvalidRequest, match="Unknown trace"):
        resolve(str(tmp_path / "nope.csv"), 1, files_allowed=False)


def test_a_shifted_trace_starts_where_it_was_cut_and_keeps_its_mean() -> None:
    trace = BandwidthTrace("three", (0.0, 10.0, 20.0), (1.0, 2.0, 4.0), tail_s=10.0)
    later = trace.shifted(15.0)
    assert later.interval(0.0) == (2e6, pytest.approx(5.0))     # 5 s left of the 2 Mbit/s step
    assert later.interval(5.0)[0] == 4e6 and later.interval(15.0)[0] == 1e6   # then on, looping round
    assert later.duration == trace.duration and later.mean_mbps() == pytest.approx(trace.mean_mbps())
    on_a_step = trace.shifted(10.0)
    assert on_a_step.times == (0.0, 10.0, 20.0) and on_a_step.mbps == (2.0, 4.0, 1.0)
    assert on_a_step.duration == trace.duration
