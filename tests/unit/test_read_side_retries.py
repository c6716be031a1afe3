"""A read that reaches a copy still loading its projection is asked again, within a bound;
any other "unavailable" (a position not reached in time, a broker gone) is not."""

from __future__ import annotations

import pytest

from kernel import read_side
from kernel.errors import PROJECTION_LOADING, ServiceUnavailable
from kernel.read_side import READ_ATTEMPTS, READ_RETRY_PAUSE, RetriedReads


class Copies:
    """Answers from the copies a call reaches, in turn: an error is raised, else returned."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def portal_me(self, user_id):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"user": user_id, **answer}


def loading() -> ServiceUnavailable:
    return ServiceUnavailable("the portal projection is still loading", PROJECTION_LOADING)


def test_a_loading_copy_is_passed_over_for_one_that_serves():
    copies = Copies(loading(), loading(), {"served": True})
    assert RetriedReads(copies).portal_me("ann") == {"user": "ann", "served": True}
    assert copies.calls == 3


def test_every_copy_loading_is_still_unavailable_after_a_bounded_wait(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(read_side.eventlet, "sleep", pauses.append)
    copies = Copies(*[loading() for _ in range(READ_ATTEMPTS + 1)])
    with pytest.raises(ServiceUnavailable):
        RetriedReads(copies).portal_me("ann")
    assert copies.calls == READ_ATTEMPTS
    # Pauses that double, so a load of a second or so is waited for, within 1.6 s in all.
    assert pauses == [READ_RETRY_PAUSE * 2**n for n in range(READ_ATTEMPTS - 1)]
    assert 1.0 < sum(pauses) <= 1.6


def test_a_position_not_reached_in_time_is_not_asked_again():
    late = ServiceUnavailable("not caught up", {"min_position": "not applied within 2s"})
    copies = Copies(late, {"served": True})
    with pytest.raises(ServiceUnavailable):
        RetriedReads(copies).portal_me("ann")
    assert copies.calls == 1
