"""Health checks for container orchestration (``portalctl health <service>``)."""

from __future__ import annotations

from typing import Any

import requests

from portalctl.stack import local_url

# A relay further behind than this many events is not keeping up.
RELAY_MAX_LAG = 10_000


def check(service: str, config: dict[str, Any]) -> str | None:
    """None when healthy, else what is wrong."""
    if service == "gateway":
        try:
            answer = requests.get(f"{local_url(config['WEB_SERVER_ADDRESS'])}/healthz", timeout=4)
        except requests.RequestException as error:
            return str(error)
        return None if answer.status_code == 200 else f"/healthz answered {answer.status_code}"
    if service == "event_relay":
        from kernel.eventstore import open_event_store

        store = open_event_store(config)
        lag = store.head_position() - store.get_checkpoint("event_relay")
        return None if lag <= RELAY_MAX_LAG else f"{lag} events not yet published"
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    try:
        with ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}, timeout=4) as rpc:
            answer = getattr(rpc, service).health()
    except Exception as error:  # any failure to answer is unhealthy
        return f"{type(error).__name__}: {error}"
    return None if answer.get("status") == "ok" else str(answer)
