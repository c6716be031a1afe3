"""The compose stack cannot run here (no Docker engine), so it is checked by reading it:
every process of the platform has a container built from deploy/Dockerfile, with a
healthcheck that names it and the dependencies it needs to start."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from portalctl.stack import PROCESSES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_platform_process_has_a_container():
    assert set(PROCESSES) <= set(SERVICES)
    assert {"mongo", "mongo-replica-set", "rabbitmq"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_each_container_runs_its_process_from_the_platform_image(name):
    service = SERVICES[name]
    build = service["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert service["command"] == ["python", *PROCESSES[name]]
    module = service["command"][2]
    if module == "kernel.runner":
        module_name, _, class_name = service["command"][3].partition(":")
        assert hasattr(importlib.import_module(module_name), class_name)
    else:
        importlib.import_module(f"{module}.__main__")


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_each_container_has_a_healthcheck_for_itself_and_waits_for_its_dependencies(name):
    service = SERVICES[name]
    assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "portalctl", "health", name]
    depends = service["depends_on"]
    assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert depends["mongo-replica-set"]["condition"] == "service_completed_successfully"
    environment = service["environment"]
    assert environment["MONGO_URI"].endswith("replicaSet=rs0")
    assert "@rabbitmq:5672/" in environment["AMQP_URI"]
    for secret in ("PORTAL_ADMIN_TOKEN", "PORTAL_IDENTITY_SECRET", "PORTAL_SESSION_SECRET"):
        assert re.fullmatch(r"\$\{" + secret + r":\?.+\}", environment[secret])


def test_the_gateway_is_published_and_starts_after_the_services_it_calls():
    gateway = SERVICES["gateway"]
    assert gateway["ports"] == ["8000:8000"]
    assert gateway["environment"]["WEB_SERVER_ADDRESS"] == "0.0.0.0:8000"
    rpc_services = {name for name, argv in PROCESSES.items() if "kernel.runner" in argv} - {
        "gateway"
    }
    for name in rpc_services:
        assert gateway["depends_on"][name]["condition"] == "service_healthy"


def test_mongo_runs_a_replica_set_initiated_by_a_one_shot_container():
    assert SERVICES["mongo"]["command"][-3:] == ["--replSet", "rs0", "--bind_ip_all"]
    assert "healthcheck" in SERVICES["mongo"] and "healthcheck" in SERVICES["rabbitmq"]
    script = SERVICES["mongo-replica-set"]["volumes"][0].split(":")[0]
    text = (ROOT / script).read_text()
    assert 'rs.initiate({ _id: "rs0"' in text
    assert SERVICES["mongo-replica-set"]["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_the_dockerfile_installs_the_pinned_dependencies_and_runs_unprivileged():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install -c constraints.txt" in dockerfile
    assert "FROM python:3.11" in dockerfile
    assert re.search(r"^USER portal$", dockerfile, re.MULTILINE)
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        assert (ROOT / copied).exists(), copied


def test_data_survives_container_restarts():
    assert "mongo-data:/data/db" in SERVICES["mongo"]["volumes"]
    assert set(COMPOSE["volumes"]) == {"mongo-data", "rabbitmq-data"}
