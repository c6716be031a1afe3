"""Run one Nameko service: ``python -m kernel.runner services.tickets.service:TicketsService``.

Does what ``nameko run`` does (monkey-patch, signals, graceful stop on SIGTERM), plus the
platform's own start-up: configuration through :func:`kernel.config.load_config` and JSON
logging named after the service.
"""

from __future__ import annotations

import warnings

# eventlet announces its maintenance mode on import; nameko 2.x needs it regardless.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import importlib  # noqa: E402

from nameko.cli.run import run  # noqa: E402

from kernel.config import load_config  # noqa: E402
from kernel.logging import configure_logging, get_logger  # noqa: E402


def import_service(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service", help="module:Class of the Nameko service")
    parser.add_argument("--config", help="YAML config (default: PORTAL_CONFIG or config.yml)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    service = import_service(args.service)
    configure_logging(service.name, config.get("LOG_LEVEL", "INFO"))
    get_logger(__name__).info("service starting", amqp_uri=_without_password(config["AMQP_URI"]))
    run([service], config)


def _without_password(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    if "@" not in rest:
        return uri
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


if __name__ == "__main__":
    main()
