"""How many copies ``portalctl run`` starts, and what each process is named."""

from __future__ import annotations

import pytest

from kernel.config import ConfigurationError, replicas
from portalctl.stack import PROCESSES, Stack


def test_a_stack_of_two_copies_names_each_service_twice(tmp_path):
    stack = Stack(env={}, log_dir=tmp_path, names=["tickets", "gateway"], replicas=2)
    assert stack.copies == ["tickets", "tickets.2", "gateway", "gateway.2"]


def test_one_copy_keeps_the_names_a_stack_always_had(tmp_path):
    assert Stack(env={}, log_dir=tmp_path).copies == list(PROCESSES)


@pytest.mark.parametrize("value", [1, 2, 8])
def test_portal_replicas_is_a_whole_number_of_copies(value):
    assert replicas({"PORTAL_REPLICAS": value}) == value
    assert replicas({}) == 1


@pytest.mark.parametrize("value", [0, -1, "two", 1.5, True, None])
def test_a_replica_count_that_is_not_one_or_more_refuses_to_start(value):
    with pytest.raises(ConfigurationError, match="PORTAL_REPLICAS"):
        replicas({"PORTAL_REPLICAS": value})
