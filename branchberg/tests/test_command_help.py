"""Every management command of ours prints its --help with no environment at all (no SECRET_KEY, no .env)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

APPS = ("revenue", "summaries", "alerts", "integrations", "branchberg")
COMMANDS = sorted(
    path.stem
    for app in APPS
    for path in (Path(settings.BASE_DIR) / app / "management" / "commands").glob("*.py")
    if not path.stem.startswith("_")
)


def test_the_commands_are_found():
    assert {"create_api_key", "seed_demo", "ensure_demo_admin", "compute_summaries"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_works_with_no_environment(command, tmp_path):
    result = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), command, "--help"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"manage.py {command}" in result.stdout


def test_without_help_the_secret_key_is_still_required(tmp_path):
    result = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "check"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
