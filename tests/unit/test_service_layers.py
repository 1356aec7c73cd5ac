"""The layers inside every service but the gateway (whose rooms have their own import contract in pyproject.toml):
``__main__`` → ``bootstrap`` (the composition root) → adapters (gRPC servicers, queue handlers) → use cases →
models. A module may import only from its own layer or below: a use case never reaches for an adapter or the
composition root, and the tables (``models.py``) depend on nothing else of the service.

Read from the source (no import), so the check costs nothing and names the file and line of a violation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ENTRY = {"__main__"}
ROOT_OF_COMPOSITION = {"bootstrap"}
ADAPTERS = {"grpc_api", "suppression_api", "webhook_api", "consumer", "transactional_api"}
MODELS = {"models", "webhook_models"}


def layer(module: str) -> int:
    """0 the entry point, 1 the composition root, 2 adapters, 3 use cases (everything else), 4 models."""
    if module in ENTRY:
        return 0
    if module in ROOT_OF_COMPOSITION:
        return 1
    if module in ADAPTERS:
        return 2
    if module in MODELS:
        return 4
    return 3


def service_packages() -> list[Path]:
    return sorted(path for path in ROOT.glob("services/*/postman_*") if path.name != "postman_gateway")


def upward_imports(package: Path, root: Path = ROOT) -> list[str]:
    """``file:line imports module`` for each import of a module of the same service from a higher layer."""
    found = []
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).with_suffix("").parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == package.name:
                    targets = [alias.name for alias in node.names]
                elif node.module.startswith(package.name + "."):
                    targets = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                targets = [alias.name.split(".")[1] for alias in node.names
                           if alias.name.startswith(package.name + ".")]
            for target in targets:
                if target != module and layer(target) < layer(module):
                    found.append(f"{path.relative_to(root)}:{node.lineno} ({module}) imports {target}")
    return found


def test_every_service_is_checked() -> None:
    names = {path.parent.name for path in service_packages()}
    assert names == {"auth", "campaign", "renderer", "sender-email", "sender-sms", "sender-telegram", "stats"}


@pytest.mark.parametrize("package", service_packages(), ids=lambda path: path.parent.name)
def test_no_module_imports_from_a_layer_above_its_own(package: Path) -> None:
    upward = upward_imports(package)
    assert not upward, f"imports against the layers (entry > bootstrap > adapters > use cases > models): {upward}"


def test_the_check_catches_a_use_case_importing_an_adapter_and_models_importing_a_use_case(tmp_path: Path) -> None:
    package = tmp_path / "postman_example"
    package.mkdir()
    (package / "sending.py").write_text("from postman_example import grpc_api\n")
    (package / "models.py").write_text("from postman_example.sending import send\n")
    (package / "grpc_api.py").write_text("from postman_example import sending, models\n")
    found = upward_imports(package, root=tmp_path)
    assert found == ["postman_example/models.py:1 (models) imports sending",
                     "postman_example/sending.py:1 (sending) imports grpc_api"]
