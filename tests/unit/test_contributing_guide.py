"""docs/contributing.md names files and names in the code: each must still exist, or the checklist sends a newcomer to
a file that was moved or renamed (issue 17: "each a list of the files to touch, checked against the code")."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "contributing.md"
CODE_DIRS = ("lib", "services", "tests", "tools", "bench", "migrations")

# A file or folder path (no placeholder such as <channel>, no glob, no command line).
PATH = re.compile(r"^[\w.-]+(?:/[\w.-]+)*/?$")
FILE_SUFFIXES = (".py", ".proto", ".yaml", ".yml", ".md", ".html", ".js", ".css", ".toml", ".sh", ".ini", ".txt")
# A constant, class or function named on its own (ALLOWED_CALLERS, ServiceRuntime, deliver_batch()), a setting
# (API_RATE_LIMIT: its name is a string in the settings) or a service's package (postman_auth).
NAME = re.compile(r"^(?:[A-Z][A-Z0-9_]{2,}|[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+|[a-z]+(?:_[a-z0-9]+)+)(?:\(\))?$")


def guide_tokens() -> list[str]:
    return sorted(set(re.findall(r"`([^`\n]+)`", GUIDE.read_text())))


@cache
def tracked_files() -> tuple[str, ...]:
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return tuple(listing.split())


@cache
def code_text() -> str:
    return "\n".join((ROOT / path).read_text(errors="replace") for path in tracked_files()
                     if path.startswith(CODE_DIRS) and path.endswith((".py", ".proto")) and (ROOT / path).is_file())


GENERATED = ("lib/postman/",)  # made by `make install` from protos/, not committed


def path_exists(token: str) -> bool:
    """Guide paths are written from the repository root or from a package (``api/campaigns.py``): one file (or
    folder) of the repository must end with it. ``core/auth.authenticate`` names a module's attribute."""
    wanted = token.rstrip("/")
    if wanted.startswith(tuple(prefix.rstrip("/") for prefix in GENERATED)):
        return True
    last = wanted.rsplit("/", 1)[-1]
    if "." in last and not last.endswith(FILE_SUFFIXES):
        wanted = wanted.rsplit(".", 1)[0] + ".py"
    return any(path == wanted or path.endswith("/" + wanted) or f"/{wanted}/" in f"/{path}" for path in tracked_files())


def is_path(token: str) -> bool:
    return bool(PATH.match(token)) and ("/" in token or token.endswith(FILE_SUFFIXES))


def test_every_path_the_guide_names_exists():
    paths = [token for token in guide_tokens() if is_path(token)]
    assert len(paths) > 40, "the guide's paths were not found: has its format changed?"
    missing = [token for token in paths if not path_exists(token)]
    assert not missing, f"docs/contributing.md names paths that no longer exist: {missing}"


def test_every_code_name_the_guide_names_is_defined():
    names = [token.removesuffix("()") for token in guide_tokens() if NAME.match(token) and not is_path(token)]
    assert len(names) > 15, "the guide's names were not found: has its format changed?"
    text = code_text()
    missing = [name for name in names if not (
        path_exists(name) if name.startswith("postman_")  # a service's package
        else re.search(rf"(?:\b(?:def|class)\s+{name}\b|^\s*{name}\s*[:=]|\"{name}\")", text, re.MULTILINE))]
    assert not missing, f"docs/contributing.md names code that is not defined anywhere: {missing}"


def test_the_checks_catch_a_renamed_file_and_a_removed_name():
    assert path_exists("core/body_limits.py") and not path_exists("core/body_limit.py")
    assert is_path("api/campaigns.py") and not is_path("make lint")
    assert NAME.match("ALLOWED_CALLERS") and NAME.match("deliver_batch()") and not NAME.match("make")
    assert path_exists("core/auth.authenticate") and not path_exists("core/authn.authenticate")
