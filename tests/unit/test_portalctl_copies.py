"""How many copies ``portalctl run`` starts, and what each process is named."""

from __future__ import annotations

import pytest

from kernel.config import ConfigurationError, replicas
from portalctl.copies import rpc_services
from portalctl.stack import PROCESSES, Stack


def test_a_stack_of_two_copies_names_each_service_twice(tmp_path):
    stack = Stack(env={}, log_dir=tmp_path, names=["tickets", "gateway"], replicas=2)
    assert stack.copies == ["tickets", "tickets.2", "gateway", "gateway.2"]


def test_one_copy_keeps_the_names_a_stack_always_had(tmp_path):
    one_partition = {"PORTAL_PARTITIONS": "1"}
    assert Stack(env=one_partition, log_dir=tmp_path).copies == list(PROCESSES)


def test_status_counts_the_copies_of_each_partition_on_its_own_queue():
    assert rpc_services({"PORTAL_PARTITIONS": "3"}) == [
        "identity",
        "companies",
        "tickets",
        "messenger_bridge",
        "portal_query_p0",
        "portal_query_p1",
        "portal_query_p2",
        "notifications",
    ]
    assert "portal_query" in rpc_services({"PORTAL_PARTITIONS": 1})


@pytest.mark.parametrize("value", [1, 2, 8])
def test_portal_replicas_is_a_whole_number_of_copies(value):
    assert replicas({"PORTAL_REPLICAS": value}) == value
    assert replicas({}) == 1


@pytest.mark.parametrize("value", [0, -1, "two", 1.5, True, None])
def test_a_replica_count_that_is_not_one_or_more_refuses_to_start(value):
    with pytest.raises(ConfigurationError, match="PORTAL_REPLICAS"):
        replicas({"PORTAL_REPLICAS": value})
