"""Each Deployment (and the setup Job), exactly as `kubectl kustomize deploy/k8s` renders it, starts with settings
that work in a cluster.

For every service the test assembles the environment its container gets (``envFrom`` ConfigMaps and Secrets, then
``env`` with its ``value``s, ``secretKeyRef``s, ``configMapKeyRef``s and ``fieldRef``s, as the kubelet does), builds
``Settings.from_env`` from it as the service's ``__main__`` does, and fails when:

- the pod could not even be created (a non-optional ``secretKeyRef`` to a key the Secret lacks);
- a setting the service reads is left to a default that only works on a developer's machine: an address on loopback
  (``AMQP_URL``, ``DATABASE_URL``, ``REDIS_URL``, ``*_ADDR``, ``PUBLIC_URL``, bind hosts...) or an empty value a
  replicated deployment needs (``REQUIRED_IN_A_CLUSTER``);
- the service's own start-up refusals (``postman_shared.startup_checks.check_startup``: default, placeholder or
  missing secrets, the development outbox) would stop it.

The Secret is taken twice: from ``secret.example.yaml`` with its placeholders filled in as its comments say, and from
the ``kubectl create secret`` command of deploy/k8s/README.md, so that neither lacks a key a workload needs.

Which settings a service reads is found in its code, not kept in a list here: every attribute named like a Settings
field in the service's package and in the shared-library modules it imports (transitively). That errs on the side of
counting a setting as read (a module imported for one function counts whole), which for these checks is the safe side.
``settings.py`` and ``startup_checks.py`` are left out: the first names every setting, the second is run as such.
"""

from __future__ import annotations

import ast
import base64
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from postman_shared.settings import Settings, SettingsError
from postman_shared.startup_checks import check_startup, is_loopback_host

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_README = K8S / "README.md"
SERVICE_FOLDERS = sorted(
    p.name for p in (ROOT / "services").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
)
SETTING_FIELDS = {f.name: f for f in fields(Settings) if f.name != "extra"}
NOT_READS = {"settings.py", "startup_checks.py", "runtime.py"}
# The shared runtime (postman_shared/runtime.py) reads a setting only for a facility a service asks it for: it is
# counted by the facilities the service's own code uses (the gateway asks for none of them: no database, no gRPC).
RUNTIME_ALWAYS = {"log_level", "log_format", "metrics_port", "metrics_bind_host"}
RUNTIME_FACILITIES = {
    "database": {"database_url"},
    "publisher": {"amqp_url"},
    "serve_grpc": {"grpc_bind_host", "grpc_port", "health_port", "metrics_bind_host"},
}
POD_IP = "10.20.30.40"  # what status.podIP gives the container

# Settings whose empty default is a single-process fallback that quietly breaks once there are replicas.
REQUIRED_IN_A_CLUSTER: dict[str, tuple[Callable[[Settings], bool], str]] = {
    "redis_url": (lambda s: True, "without it each replica counts rate limits and send rates on its own"),
    "s3_bucket": (lambda s: s.object_store == "s3", "OBJECT_STORE=s3 needs a bucket"),
    # Empty means port 15672 on AMQP_URL's host over plain HTTP: a guess, where the setup Job sets the queue policies.
    "rabbitmq_management_url": (lambda s: True, "the setup Job sets the queue policies through RabbitMQ's "
                                                "management API, which it would look for on a guessed address"),
}


# --- the rendered manifests -------------------------------------------------------------------------------------------

def kubectl() -> str:
    path = shutil.which("kubectl")
    assert path, "kubectl is not on PATH: these tests render deploy/k8s with `kubectl kustomize`"
    return path


@cache
def rendered() -> tuple[dict[str, Any], ...]:
    result = subprocess.run([kubectl(), "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize deploy/k8s failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def rendered_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered() if doc["kind"] == kind}


# --- the Secret, as an operator creates it ----------------------------------------------------------------------------

def random_for(placeholder: str) -> str:
    """What the example's comments ask for in place of a placeholder: base64 of 32 bytes, or 64 hex characters."""
    if "base64" in placeholder.lower():
        return base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(32)


def example_secret() -> dict[str, str]:
    """secret.example.yaml with every CHANGE-ME placeholder filled in."""
    with (K8S / "secret.example.yaml").open() as stream:
        (secret,) = [doc for doc in yaml.safe_load_all(stream) if doc]
    return {key: re.sub(r"CHANGE-ME[\w-]*", lambda m: random_for(m.group(0)), str(value), flags=re.IGNORECASE)
            for key, value in secret["stringData"].items()}


READMES_SECRET_COMMAND = "kubectl -n postman create secret generic postman-secrets"
SHELL_GENERATORS = {
    "$(openssl rand -hex 32)": lambda: secrets.token_hex(32),
    "$(openssl rand -base64 32)": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
}


def readme_secret_literals() -> dict[str, str]:
    """The --from-literal pairs of the README's `kubectl create secret` command, as the shell would pass them."""
    text = K8S_README.read_text()
    assert text.count(READMES_SECRET_COMMAND) == 1, f"deploy/k8s/README.md should have one `{READMES_SECRET_COMMAND}`"
    start = text.index(READMES_SECRET_COMMAND)
    lines = []
    for line in text[start:].splitlines():
        lines.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    literals: dict[str, str] = {}
    for match in re.finditer(r"--from-literal=([A-Z0-9_]+)=('[^']*'|\"[^\"]*\"|\S+)", " ".join(lines)):
        name, raw = match.groups()
        value = raw[1:-1] if raw[0] in "'\"" else raw
        if raw[0] != "'":  # the shell runs $(...) outside single quotes
            for command, generate in SHELL_GENERATORS.items():
                while command in value:
                    value = value.replace(command, generate(), 1)
            assert "$(" not in value, f"README: {name} runs a command this test does not know: {value}"
        literals[name] = value
    return literals


SECRET_SOURCES: dict[str, Callable[[], dict[str, str]]] = {
    "secret.example.yaml": example_secret,
    "README kubectl create secret": readme_secret_literals,
}


# --- the container's environment, as the kubelet assembles it ---------------------------------------------------------

def field_value(path: str, workload: dict[str, Any]) -> str:
    values = {"status.podIP": POD_IP, "status.hostIP": "10.0.0.1",
              "metadata.name": f"{workload['metadata']['name']}-0", "metadata.namespace": "postman"}
    assert path in values, f"{workload['metadata']['name']}: fieldRef {path} is not simulated by this test"
    return values[path]


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of env values: defined names are replaced, $$ is a literal $."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


def container_env(workload: dict[str, Any], secret: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment of the workload's container, and why the pod could not be created (if it could not)."""
    configmaps = {name: doc.get("data", {}) for name, doc in rendered_kind("ConfigMap").items()}
    secrets_by_name = {"postman-secrets": secret}
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    problems: list[str] = []
    for source in container.get("envFrom", []):
        for kind, store in (("configMapRef", configmaps), ("secretRef", secrets_by_name)):
            if kind in source:
                ref = source[kind]
                if ref["name"] in store:
                    env.update({source.get("prefix", "") + k: str(v) for k, v in store[ref["name"]].items()})
                elif not ref.get("optional"):
                    problems.append(f"envFrom {kind} {ref['name']} does not exist")
    for item in container.get("env", []):
        name, value_from = item["name"], item.get("valueFrom")
        if value_from is None:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        for kind, store in (("secretKeyRef", secrets_by_name), ("configMapKeyRef", configmaps)):
            if kind in value_from:
                ref = value_from[kind]
                values = store.get(ref["name"])
                if values is not None and ref["key"] in values:
                    env[name] = str(values[ref["key"]])
                elif not ref.get("optional"):
                    problems.append(f"{name}: {kind} {ref['name']}/{ref['key']} does not exist, so the pod is "
                                    "never created (CreateContainerConfigError)")
        if "fieldRef" in value_from:
            env[name] = field_value(value_from["fieldRef"]["fieldPath"], workload)
    return env, problems


# --- what a service reads ---------------------------------------------------------------------------------------------

def package_of(folder: str) -> str:
    return "postman_" + folder.replace("-", "_")


def module_file(module: str, search: list[Path]) -> Path | None:
    for base in search:
        path = base.joinpath(*module.split("."))
        if (path / "__init__.py").exists():
            return path / "__init__.py"
        if path.with_suffix(".py").exists():
            return path.with_suffix(".py")
    return None


def imported_modules(path: Path, search: list[Path], roots: tuple[str, ...]) -> Iterator[Path]:
    """The repository's modules ``path`` imports (and the packages they are in), absolute or relative."""
    base = next(b for b in search if b in path.parents)
    package = ".".join(path.relative_to(base).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parent, module] if module else parent)
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for name in names:
            if not name.startswith(roots):
                continue
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:end]), search)
                if found:
                    yield found


# The code each workload runs: a Deployment its service's package, the setup Job the `postmanctl setup` command.
SETUP_JOB = "postman-setup"


@cache
def settings_read_by(workload: str) -> frozenset[str]:
    """Settings fields named as attributes in the workload's code and the shared modules it imports."""
    if workload == SETUP_JOB:
        search, roots = [ROOT / "lib"], ("postman_shared", "postman_ctl")
        todo = [ROOT / "lib" / "postman_ctl" / "setup.py"]
    else:
        search, roots = [ROOT / "lib", ROOT / "services" / workload], ("postman_shared", package_of(workload))
        todo = list((ROOT / "services" / workload / package_of(workload)).rglob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imported_modules(path, search, roots))
    read: set[str] = set()
    for path in seen:
        if path.name in NOT_READS and path.parent.name == "postman_shared":
            continue
        read |= {node.attr for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Attribute) and node.attr in SETTING_FIELDS}
    if ROOT / "lib" / "postman_shared" / "runtime.py" in seen:
        read |= RUNTIME_ALWAYS
        own = [path for path in seen if ROOT / "services" in path.parents]
        used = {node.attr for path in own for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Attribute) and node.attr in RUNTIME_FACILITIES}
        for facility in used:
            read |= RUNTIME_FACILITIES[facility]
    return frozenset(read)


# --- what is wrong with a service's settings --------------------------------------------------------------------------

def host_of(name: str, value: str) -> str | None:
    """The host a setting's value names: a URL's, a host:port address's, or a bind host; None for other settings."""
    if not value.strip():
        return None
    if "://" in value:
        return urlsplit(value).hostname
    if name.endswith("_addr") or name == "dns_nameserver":
        return urlsplit(f"//{value}").hostname
    if name.endswith("_host"):
        return value
    return None


def settings_problems(workload: str, env: Mapping[str, str]) -> list[str]:
    try:
        settings = Settings.from_env(env)
    except SettingsError as error:
        return [str(error)]
    problems = []
    for name in sorted(settings_read_by(workload)):
        value = str(getattr(settings, name))
        variable = name.upper()
        host = host_of(name, value)
        if host and is_loopback_host(host):
            origin = "set" if variable in env else "not set: the default"
            problems.append(f"{variable} is {origin} {value!r}, on the pod's own loopback")
        if name in REQUIRED_IN_A_CLUSTER and not value:
            applies, why = REQUIRED_IN_A_CLUSTER[name]
            if applies(settings):
                problems.append(f"{variable} is empty: {why}")
    try:
        check_startup(settings, workload)  # the setup Job is no service: it has no refusals of its own
    except SettingsError as error:
        problems.append(str(error))
    return problems


# --- the tests --------------------------------------------------------------------------------------------------------

def test_kubectl_renders_a_deployment_for_every_service() -> None:
    assert sorted(rendered_kind("Deployment")) == SERVICE_FOLDERS


def test_what_each_service_reads_is_found_in_its_code() -> None:
    """The discovery itself: gateway and auth publish (sign-in emails, provider callbacks), every service but the
    gateway serves gRPC and keeps a database, and the senders that share a send rate read REDIS_URL."""
    for folder in SERVICE_FOLDERS:
        read = settings_read_by(folder)
        assert "amqp_url" in read and "public_url" in read, folder
        if folder != "gateway":
            assert {"database_url", "grpc_bind_host", "metrics_bind_host"} <= read, folder
    assert "database_url" not in settings_read_by("gateway"), "the gateway owns no table"
    assert {"redis_url", "gateway_host", "auth_addr"} <= settings_read_by("gateway")
    assert "redis_url" in settings_read_by("sender-telegram")


@pytest.mark.parametrize("source", sorted(SECRET_SOURCES))
@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_each_deployment_starts_with_settings_that_work_in_a_cluster(folder: str, source: str) -> None:
    deployment = rendered_kind("Deployment")[folder]
    env, problems = container_env(deployment, SECRET_SOURCES[source]())
    problems += settings_problems(folder, env)
    assert not problems, (f"Deployment {folder} (Secret from {source}) would not work:\n- " + "\n- ".join(problems))


def test_readme_secret_command_creates_the_keys_of_the_example() -> None:
    example, readme = set(example_secret()), set(readme_secret_literals())
    assert readme <= example, f"README creates keys secret.example.yaml does not document: {sorted(readme - example)}"
    needed = {item["valueFrom"]["secretKeyRef"]["key"]
              for doc in rendered() if doc["kind"] in ("Deployment", "Job")
              for container in doc["spec"]["template"]["spec"]["containers"]
              for item in container.get("env", [])
              if "secretKeyRef" in item.get("valueFrom", {}) and not item["valueFrom"]["secretKeyRef"].get("optional")}
    assert needed <= readme, f"README's `kubectl create secret` lacks keys pods need: {sorted(needed - readme)}"
    assert needed <= example, f"secret.example.yaml lacks keys pods need: {sorted(needed - example)}"


@pytest.mark.parametrize("source", sorted(SECRET_SOURCES))
def test_setup_job_reaches_the_stores(source: str) -> None:
    job = rendered_kind("Job")[SETUP_JOB]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup"]
    assert {"database_url", "amqp_url", "rabbitmq_management_url",
            "queue_delivery_limit"} <= settings_read_by(SETUP_JOB)
    env, problems = container_env(job, SECRET_SOURCES[source]())
    problems += settings_problems(SETUP_JOB, env)
    assert not problems, (f"Job {SETUP_JOB} (Secret from {source}) would not work:\n- " + "\n- ".join(problems))


def test_the_checks_catch_a_loopback_address_and_a_missing_secret() -> None:
    """The checks themselves can fail: the gateway's env without AMQP_URL and CALLBACK_SIGNING_KEY."""
    env, _ = container_env(rendered_kind("Deployment")["gateway"], example_secret())
    env = {k: v for k, v in env.items() if k not in ("AMQP_URL", "CALLBACK_SIGNING_KEY")}
    problems = " ".join(settings_problems("gateway", env))
    assert "AMQP_URL is not set: the default 'amqp://guest:guest@127.0.0.1:5672/%2F'" in problems
    assert "CALLBACK_SIGNING_KEY is the development default" in problems
