"""`opscom-bridge dlq` and `stats` without services: usage, output, purge guard (SQLite file)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge import db
from bridge.deadletters import DeadLetters
from bridge.errors import SettingsError
from bridge.ops_cli import _cut, _table, dlq_main, stats_main


@pytest.fixture
def dead(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> DeadLetters:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("BRIDGE_CONFIG", raising=False)
    return DeadLetters(db.connect(url))


def seed(dead: DeadLetters, source_id: str, vendor: str = "standard",
         reason: str = "OPS-COM error 9033: The field's value is invalid.") -> dict[str, Any]:
    command = {"action": "create", "source": "acme", "source_id": source_id,
               "event_id": f"e-{source_id}", "plate": "ABC123",
               "startTime": "2024-05-01T10:00:00", "endTime": "2024-05-01T12:00:00"}
    return dead.record(reason=reason, message={"raw": source_id}, command=command,
                       attempts=[{"at": "2024-05-01T10:00:01+00:00", "kind": "permanent"}],
                       error_code=9033, vendor=vendor, source="acme", source_id=source_id,
                       event_id=f"e-{source_id}", action="create")


@pytest.mark.parametrize("argv", [
    [], ["explode"], ["list", "--since", "yesterday"], ["list", "--error-code", "x"],
    ["list", "--limit", "-3"], ["show"], ["replay"], ["replay", "abc", "--all"],
    ["replay", "abc", "--vendor", "easypark"], ["replay", "a", "b", "--edit", "cmd.json"],
    ["replay", "--all", "--edit", "cmd.json"],
])
def test_usage_errors_exit_2(dead: DeadLetters, argv: list[str],
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert dlq_main(argv) == 2
    assert capsys.readouterr().err.strip()


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert dlq_main(["--help"]) == 0
    assert "list" in capsys.readouterr().out
    assert stats_main(["--help"]) == 0


def test_list_table(dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    first = seed(dead, "p-1", reason="x" * 200)
    seed(dead, "p-2", vendor="easypark")
    assert dlq_main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "CREATED_AT", "VENDOR", "SOURCE/SOURCE_ID", "ACTION",
                                "ERROR_CODE", "REASON"]
    assert lines[1].startswith(first["id"]) and "acme/p-1" in lines[1]
    assert "x" * 200 not in lines[1] and lines[1].endswith("…")
    assert lines[-1] == "2 of 2 dead letters"


def test_list_filters_limit_and_json(dead: DeadLetters,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        seed(dead, f"p-{n}")
    seed(dead, "p-e", vendor="easypark")
    assert dlq_main(["list", "--json", "--vendor", "standard", "--limit", "2"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["total"] == 3 and [i["source_id"] for i in shown["items"]] == ["p-0", "p-1"]
    assert dlq_main(["list", "--json", "--permit", "p-e", "--error-code", "9033"]) == 0
    assert [i["vendor"] for i in json.loads(capsys.readouterr().out)["items"]] == ["easypark"]
    assert dlq_main(["list", "--limit", "1"]) == 0
    assert "1 of 4 dead letters (from 1; --limit/--offset for more)" in capsys.readouterr().out


def test_show(dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    record = seed(dead, "p-1")
    assert dlq_main(["show", record["id"]]) == 0
    out = capsys.readouterr().out
    assert "reason:" in out and "9033" in out and '"raw": "p-1"' in out
    assert "command (as translated):" in out and '"plate": "ABC123"' in out
    assert dlq_main(["show", record["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == record
    assert dlq_main(["show", "no-such-id"]) == 1
    assert "no dead letter no-such-id" in capsys.readouterr().err


def test_purge_needs_yes(dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    seed(dead, "p-1")
    seed(dead, "p-2", vendor="easypark")
    assert dlq_main(["purge"]) == 2
    err = capsys.readouterr().err
    assert "--yes" in err and "2 dead letters" in err and len(err.strip().splitlines()) == 1
    assert dead.list()[1] == 2
    assert dlq_main(["purge", "--vendor", "easypark", "--yes"]) == 0
    assert capsys.readouterr().out.strip() == "purged 1 dead letters"
    assert [i["source_id"] for i in dead.list()[0]] == ["p-1"]


def test_edit_file_problems_exit_1(dead: DeadLetters, tmp_path: Any,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    record = seed(dead, "p-1")
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"action": "create", "source_id": "p-1"}))
    assert dlq_main(["replay", record["id"], "--edit", str(broken)]) == 1
    assert "is not JSON" in capsys.readouterr().err
    assert dlq_main(["replay", record["id"], "--edit", str(invalid)]) == 1
    assert "plate" in capsys.readouterr().err
    assert dlq_main(["replay", record["id"], "--edit", str(tmp_path / "missing.json")]) == 1
    assert dead.get(record["id"]) is not None


def test_settings_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        dlq_main(["list"])
    monkeypatch.delenv("OPSCOM_BASE_URL", raising=False)
    with pytest.raises(SettingsError, match="OPSCOM_BASE_URL"):
        stats_main([])


def test_table_and_cut() -> None:
    assert _table(("A", "LONGER"), [("x", None), ("yyyy", 3)]).splitlines() == [
        "A     LONGER", "x     -", "yyyy  3"]
    assert _cut("a  b\nc", 10) == "a b c"
    assert _cut("abcdefghijk", 5) == "abcd…"
