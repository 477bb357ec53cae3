"""`opscom-bridge web`'s multiprocess metrics: the shared directory, gunicorn's child_exit,
and /metrics adding up every process's files."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from prometheus_client import CollectorRegistry, Counter, values

from bridge import db
from bridge.web import create_app, gunicorn_conf, serve
from tests.unit.test_web import STANDARD, FakePublisher, make_settings, post

ENV = "PROMETHEUS_MULTIPROC_DIR"


@pytest.fixture(autouse=True)
def _no_dir_given(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv(ENV.lower(), raising=False)


def test_a_fresh_directory_is_made_and_removed(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    in_memory = values.ValueClass
    with serve.metrics_dir() as path:
        assert path.parent == tmp_path and path.is_dir()
        assert os.environ[ENV] == str(path)
        # metrics made from now on (in gunicorn's workers) write to the directory
        counter = Counter("probe", "probe", registry=CollectorRegistry())
        counter.inc()
        assert [p.name for p in path.iterdir()] == [f"counter_{os.getpid()}.db"]
    assert not path.exists()
    assert ENV not in os.environ
    assert values.ValueClass is in_memory


def test_a_given_directory_is_used_emptied_and_kept(monkeypatch, tmp_path):
    given = tmp_path / "prom"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"old run")
    (given / "README").write_text("not ours")
    monkeypatch.setenv(ENV, str(given))
    with serve.metrics_dir() as path:
        assert path == given
        assert sorted(p.name for p in given.iterdir()) == ["README"]
    assert given.is_dir()
    assert os.environ[ENV] == str(given)


def test_a_forked_worker_leaving_does_not_clean_up(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    in_memory = values.ValueClass
    try:
        with serve.metrics_dir() as path:
            monkeypatch.setattr(serve.os, "getpid", lambda: -1)  # as in a gunicorn worker
        assert path.is_dir()
        assert os.environ[ENV] == str(path)
    finally:
        monkeypatch.undo()
        values.ValueClass = in_memory
        os.environ.pop(ENV, None)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_child_exit_marks_the_worker_dead(monkeypatch, tmp_path):
    from prometheus_client import multiprocess

    dead: list[int] = []
    monkeypatch.setattr(multiprocess, "mark_process_dead", dead.append)
    worker = type("Worker", (), {"pid": 4242})()
    gunicorn_conf.child_exit(None, worker)
    assert dead == []  # no directory: nothing to mark
    monkeypatch.setenv(ENV, str(tmp_path))
    gunicorn_conf.child_exit(None, worker)
    assert dead == [4242]
    assert serve.options_from(serve.parse([]))["child_exit"] is gunicorn_conf.child_exit


def test_metrics_adds_up_the_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with serve.metrics_dir() as path:
        settings = make_settings(path.parent)
        app = create_app(settings, publisher=FakePublisher(),
                         engine=db.connect(settings.database_url.reveal()))
        client = app.test_client()
        assert post(client, "standard", STANDARD, "msg_m1").status_code == 202
        # another process's values, as a second gunicorn worker leaves them
        other = path / "counter_999999.db"
        shutil.copy(path / f"counter_{os.getpid()}.db", other)
        text = client.get("/metrics").get_data(as_text=True)
    assert 'opscom_webhooks_total{status="202",vendor="standard"} 2.0' in text
