import pytest
import requests

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_health_answers_503_while_postgres_is_down_and_recovers(start_gunicorn, postgres_control):
    base_url = start_gunicorn(workers=2)
    assert requests.get(f"{base_url}/health", timeout=5).status_code == 200
    postgres_control.stop()
    down = requests.get(f"{base_url}/health", timeout=10)
    assert down.status_code == 503
    assert down.json()["database"].startswith("down")
    postgres_control.start()
    assert requests.get(f"{base_url}/health", timeout=10).status_code == 200


def test_health_reports_the_broker_down_but_stays_200(start_gunicorn, redis_control):
    base_url = start_gunicorn(workers=1)
    redis_control.stop()
    body = requests.get(f"{base_url}/health", timeout=10).json()
    assert body["broker"].startswith("down")
    assert body["database"] == "ok"
    redis_control.start()
    assert requests.get(f"{base_url}/health", timeout=10).json()["broker"] == "ok"
