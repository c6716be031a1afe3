"""Every RPC call the platform makes gives up in time: services call each other through
``kernel.dependencies.TimedRpcProxy`` only, and a standalone proxy (ops tools, benchmarks)
always names its timeout. What a stopped service then looks like from outside (503/504
within the timeout) is ``tests/e2e/test_gateway_faults.py``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.code import parsed_files

pytestmark = pytest.mark.faults

PLATFORM_CODE = ("kernel", "services", "portalctl", "bench")
STANDALONE_PROXIES = {"ClusterRpcProxy", "ServiceRpcProxy"}
# The one place that may build on nameko's plain proxy: the timed one itself.
TIMED_PROXY = Path("kernel/dependencies.py")


def called_name(call: ast.Call) -> str | None:
    function = call.func
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return None


def proxy_problems(path: Path, tree: ast.AST) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = called_name(node)
            if name == "RpcProxy" and path != TIMED_PROXY:
                problems.append(f"{path}:{node.lineno} plain RpcProxy (use TimedRpcProxy)")
            if name in STANDALONE_PROXIES and not any(k.arg == "timeout" for k in node.keywords):
                problems.append(f"{path}:{node.lineno} {name} without a timeout")
        if isinstance(node, ast.ClassDef) and path != TIMED_PROXY:
            bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
            if "RpcProxy" in bases:
                problems.append(f"{path}:{node.lineno} a proxy built on the plain RpcProxy")
    return problems


def test_no_rpc_call_can_wait_forever():
    problems = [
        p for path, tree in parsed_files(*PLATFORM_CODE) for p in proxy_problems(path, tree)
    ]
    assert problems == []


def test_the_check_finds_what_it_looks_for():
    hidden = ast.parse(
        "from nameko.rpc import RpcProxy\n"
        "from nameko.standalone.rpc import ClusterRpcProxy\n"
        "class S:\n    other = RpcProxy('other')\n"
        "with ClusterRpcProxy(config) as rpc:\n    pass\n"
        "class Mine(RpcProxy):\n    pass\n"
    )
    assert len(proxy_problems(Path("services/x.py"), hidden)) == 3
