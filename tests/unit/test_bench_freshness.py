"""Freshness is timed from the moment the write is sent, and a change that never shows up
is a lost change (a failed run), not a slow sample."""

from __future__ import annotations

import time

from bench import freshness


def test_the_clock_starts_before_the_write_is_sent():
    def slow_write():
        time.sleep(0.05)

    assert freshness.visible_after(slow_write, lambda: True) >= 50


def test_a_change_still_invisible_at_the_bound_is_no_sample(monkeypatch):
    monkeypatch.setattr(freshness, "GIVE_UP", 0.02)
    assert freshness.visible_after(lambda: None, lambda: False) is None


def test_lost_changes_are_counted_apart_and_fail_the_run():
    p50, p99, lost = freshness.phase_rows("idle", {"ticket edit → detail": [4.0, None, 8.0]})

    assert p50.platform.median == 6.0  # over the two changes that were seen
    assert p50.observations == [4.0, 8.0]
    assert (lost.platform.median, lost.met, lost.required) == (1, False, True)
    assert p99.met is True


def test_a_phase_with_every_change_seen_passes():
    *_, lost = freshness.phase_rows("under 50 writes/s", {"new reply → search": [3.0] * 5})
    assert (lost.platform.median, lost.met) == (0, True)
