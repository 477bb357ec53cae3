"""`opscom-bridge web` (gunicorn options, refusing to start) and `opscom-bridge sign`."""

from __future__ import annotations

import base64
import json

from bridge import sign
from bridge.web import serve
from bridge.web.auth import StandardWebhooks
from tests.unit.test_vendors_compiler import EXAMPLE

WHSEC = "whsec_" + base64.b64encode(b"z" * 32).decode()


def test_gunicorn_options_from_config_module_and_command_line():
    options = serve.options_from(serve.parse(["--bind", "127.0.0.1:9000", "--threads", "4"]))
    assert options["bind"] == "127.0.0.1:9000"
    assert options["threads"] == 4
    assert options["workers"] == 2
    assert options["worker_class"] == "gthread"
    assert options["accesslog"] == "-"
    assert options["preload_app"] is False


def test_web_refuses_to_start_without_base_url(monkeypatch, capsys):
    monkeypatch.delenv("OPSCOM_BASE_URL", raising=False)
    assert serve.main(["--bind", "127.0.0.1:0"]) == 2
    assert "OPSCOM_BASE_URL" in capsys.readouterr().err


def test_web_refuses_to_start_with_a_broken_vendor(monkeypatch, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("vendors:\n  acme:\n    auth: {scheme: basic}\n"
                      "    fields: {source_id: id, plates: p}\n")
    monkeypatch.setenv("OPSCOM_BASE_URL", "http://127.0.0.1:8090")
    monkeypatch.setenv("BRIDGE_CONFIG", str(config))
    assert serve.main([]) == 2
    assert "vendors.acme.fields.plates" in capsys.readouterr().err


def test_sign_prints_headers_that_verify(monkeypatch, tmp_path, capsys):
    body = tmp_path / "body.json"
    body.write_bytes(json.dumps({"action": "create"}).encode())
    monkeypatch.setenv("BRIDGE_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("BRIDGE_VENDOR_PASSPORT_SECRET", WHSEC)
    assert sign.main(["passport", str(body), "--id", "msg_1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    headers = dict(line.split(": ", 1) for line in lines[:-1])
    assert headers["webhook-id"] == "msg_1"
    StandardWebhooks([WHSEC]).verify(headers, body.read_bytes())
    assert lines[-1].startswith("curl -sS -X POST http://localhost:8080/webhooks/passport")
    assert f"@{body}" in lines[-1]
    assert WHSEC not in "\n".join(lines)


def test_sign_basic_and_missing_secret(monkeypatch, tmp_path, capsys):
    body = tmp_path / "b.json"
    body.write_text("{}")
    monkeypatch.setenv("BRIDGE_VENDOR_EASYPARK_SECRET", "ep:pw")
    assert sign.main(["easypark", str(body), "--headers-only"]) == 0
    out = capsys.readouterr().out
    assert "Authorization: Basic " + base64.b64encode(b"ep:pw").decode() in out
    monkeypatch.delenv("BRIDGE_VENDOR_PAYBYX_SECRET", raising=False)
    assert sign.main(["paybyx", str(body)]) == 2
    assert sign.main(["nobody", str(body)]) == 2
