#!/usr/bin/env bash
# Lint, format, types and import contracts: what CI checks before the tests.
# ruff over the tree; mypy over the modules pyproject.toml lists (strict on services,
# selectors and mappers); import-linter's contracts for the apps' one-way dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
echo "==> ruff check";          .venv/bin/ruff check .
echo "==> ruff format --check"; .venv/bin/ruff format --check .
echo "==> mypy";                SECRET_KEY="${SECRET_KEY:-lint-only}" .venv/bin/mypy
echo "==> import contracts";    .venv/bin/lint-imports
