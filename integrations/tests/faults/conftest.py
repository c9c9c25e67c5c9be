"""The real stack on loopback for fault injection: gunicorn, PostgreSQL, Redis, Celery workers.

PostgreSQL and Redis are the throwaway servers scripts/test.sh started; these
fixtures stop and start them for real. Every subprocess is bounded in time and
killed at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connections

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class PostgresControl:
    """Stops and starts the suite's PostgreSQL server (not just a connection)."""

    def _run(self, *args: str) -> None:
        prefix = shlex.split(os.environ.get("TEST_PG_AS", ""))
        command = [*prefix, os.environ["TEST_PG_CTL"], "-D", os.environ["TEST_PG_DATA"], *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        for conn in connections.all():
            conn.close()
        self._run("-m", "fast", "-w", "stop")

    def start(self) -> None:
        self._run("-o", os.environ["TEST_PG_OPTS"], "-l", os.environ["TEST_PG_LOG"], "-w", "start")
        for conn in connections.all():
            conn.close()


@dataclass
class RedisControl:
    port: int = field(default_factory=lambda: int(os.environ["TEST_REDIS_PORT"]))

    def stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10, check=False
        )
        wait_until(lambda: not self.is_up(), timeout=10, what="redis to stop")

    def start(self) -> None:
        work = os.environ["TEST_WORK_DIR"]
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                f"{work}/redis.pid",
                "--logfile",
                f"{work}/redis.log",
                "--dir",
                work,
            ],
            check=True,
            timeout=10,
        )
        wait_until(self.is_up, timeout=10, what="redis to start")

    def is_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def postgres_control() -> Iterator[PostgresControl]:
    control = PostgresControl()
    yield control
    # Whatever a test did, leave the server running for the next test.
    with contextlib.suppress(subprocess.CalledProcessError):  # already running
        control.start()


@pytest.fixture
def redis_control() -> Iterator[RedisControl]:
    control = RedisControl()
    yield control
    if not control.is_up():
        control.start()


def stack_env(**overrides: str) -> dict[str, str]:
    """Environment for subprocesses: the pytest test database, the test Redis as broker.

    The processes connect as the app role (TEST_APP_DATABASE_URL's user, scripts/services.sh), as
    web and worker do in production: INSERT and SELECT on the ledger, no UPDATE/DELETE/TRUNCATE.
    """
    settings_dict = connections["default"].settings_dict
    auth = settings_dict["USER"]
    if os.environ.get("TEST_APP_DATABASE_URL"):
        app = urlsplit(os.environ["TEST_APP_DATABASE_URL"])
        auth = f"{app.username}:{app.password}" if app.password else str(app.username)
    database_url = f"postgres://{auth}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
        "CELERY_BROKER_URL": os.environ["TEST_REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": "branchberg.settings",
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


@dataclass
class Process:
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def spawn(command: list[str], *, env: dict[str, str], log_path: Path) -> Process:
    log_file = log_path.open("w")
    popen = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Process(popen, log_path)


@pytest.fixture
def start_gunicorn(tmp_path):
    started: list[Process] = []

    def start(*, workers: int = 4, threads: int = 1, timeout: int = 30, **env_overrides: str) -> str:
        port = free_port()
        process = spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                str(timeout),
            ],
            env=stack_env(WEB_THREADS=str(threads), **env_overrides),
            log_path=tmp_path / f"gunicorn-{port}.log",
        )
        started.append(process)
        base_url = f"http://127.0.0.1:{port}"

        def answering():
            try:
                return requests.get(f"{base_url}/health", timeout=1).status_code in (200, 503)
            except requests.RequestException:
                return False

        try:
            wait_until(answering, timeout=60, what="gunicorn to answer")
        except AssertionError:
            raise AssertionError(process.log()) from None
        return base_url

    yield start
    for process in started:
        process.stop()


def celery_worker_command(*, name: str, concurrency: int) -> list[str]:
    """A real prefork worker, quiet on the broker (no gossip, mingle or heartbeat)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "branchberg",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


@pytest.fixture
def start_worker(tmp_path):
    started: list[Process] = []

    def start(*, name: str = "w1", concurrency: int = 1, **env_overrides: str) -> Process:
        process = spawn(
            celery_worker_command(name=name, concurrency=concurrency),
            env=stack_env(**env_overrides),
            log_path=tmp_path / f"worker-{name}-{len(started)}.log",
        )
        started.append(process)
        wait_until(lambda: "ready." in process.log(), timeout=60, what="celery worker to be ready")
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def enqueue(settings):
    """Send a task to the real test Redis (not inline), as the web process would."""
    from branchberg.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False  # Celery reads Django settings lazily

    def send(task, *args) -> None:
        with app.connection_for_write(os.environ["TEST_REDIS_URL"]) as broker:
            task.apply_async(args, connection=broker)

    return send


@pytest.fixture(autouse=True)
def _empty_broker():
    """Each fault test starts with an empty queue: work left by an earlier test's workers is not ours."""
    port = os.environ["TEST_REDIS_PORT"]
    subprocess.run(["redis-cli", "-p", port, "FLUSHALL"], capture_output=True, timeout=10, check=False)
    yield
    subprocess.run(["redis-cli", "-p", port, "FLUSHALL"], capture_output=True, timeout=10, check=False)
