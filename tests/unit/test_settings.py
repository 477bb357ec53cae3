"""Settings: defaults, one clear line and exit 2 for each bad value, secrets hidden."""

import os
import subprocess
import sys

import pytest

from bridge.errors import SettingsError
from bridge.secret import Secret, redact
from bridge.settings import DEFAULT_RETRY_DELAYS, load_settings

GOOD = {"OPSCOM_BASE_URL": "http://127.0.0.1:8090", "OPSCOM_API_TOKEN": "tok-123456"}


def test_defaults_match_the_contract():
    s = load_settings(environ={})
    assert s.opscom_client_code == "OC-TOMA"
    assert s.amqp_url.reveal() == "amqp://guest:guest@localhost:5672/%2F"
    assert s.database_url.reveal() == "sqlite:///bridge.db"
    assert s.max_body == 262144
    assert s.retry_delays == DEFAULT_RETRY_DELAYS
    assert s.opscom_base_url is None


def test_vendor_secrets_and_retry_delays_are_read():
    s = load_settings(environ={**GOOD, "BRIDGE_VENDOR_EASYPARK_SECRET": "u:p",
                               "BRIDGE_RETRY_DELAYS": "1, 2.5,10"})
    assert s.vendor_secrets["easypark"].reveal() == "u:p"
    assert s.retry_delays == (1.0, 2.5, 10.0)


@pytest.mark.parametrize(("name", "value"), [
    ("BRIDGE_MAX_BODY", "lots"),
    ("BRIDGE_MAX_BODY", "0"),
    ("BRIDGE_RETRY_DELAYS", "1,x"),
    ("BRIDGE_RETRY_DELAYS", "-1"),
    ("AMQP_URL", "http://localhost"),
    ("DATABASE_URL", "mysql://x"),
    ("OPSCOM_BASE_URL", "controller.operationscommander.io"),
    ("OPSCOM_BASE_URL", "https://x/api/OC-TOMA/v1"),
    ("OPSCOM_CLIENT_CODE", "OC TOMA"),
    ("BRIDGE_QUEUE_TYPE", "stream"),
    ("BRIDGE_ON_UNKNOWN_OUTCOME", "maybe"),
    ("BRIDGE_PARTITIONS", "0"),
])
def test_malformed_value_names_the_variable(name, value):
    with pytest.raises(SettingsError) as err:
        load_settings(environ={**GOOD, name: value})
    assert err.value.name.startswith(name.split("_")[0])
    assert name in str(err.value)


def test_required_variable_missing_is_named():
    with pytest.raises(SettingsError, match="OPSCOM_API_TOKEN"):
        load_settings(require=("OPSCOM_API_TOKEN",), environ={})


def test_file_suffix_reads_a_secret_from_a_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("from-a-file\n")
    s = load_settings(environ={"OPSCOM_API_TOKEN_FILE": str(path)})
    assert s.opscom_api_token.reveal() == "from-a-file"


def test_broken_config_file_is_named(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text("vendors: [unclosed\n")
    with pytest.raises(SettingsError, match="BRIDGE_CONFIG"):
        load_settings(environ={"BRIDGE_CONFIG": str(path)})


def test_secrets_never_show_in_repr():
    s = load_settings(environ={**GOOD, "AMQP_URL": "amqp://u:hunter2@h/%2F",
                               "BRIDGE_ADMIN_TOKEN": "admin-sekrit"})
    text = repr(s) + str(s)
    for secret in ("tok-123456", "hunter2", "admin-sekrit"):
        assert secret not in text
    assert "hunter2" not in s.amqp_url_for_display()


def test_redact_removes_secrets_and_url_passwords():
    text = redact("token abcdef in amqp://me:pw@host/", [Secret("abcdef")])
    assert "abcdef" not in text and ":pw@" not in text


@pytest.mark.parametrize(("command", "env", "needle"), [
    (["worker"], {}, "OPSCOM_BASE_URL"),
    (["worker"], {"OPSCOM_BASE_URL": "http://x"}, "OPSCOM_API_TOKEN"),
    (["worker"], {**GOOD, "BRIDGE_MAX_BODY": "big"}, "BRIDGE_MAX_BODY"),
    (["topology"], {"AMQP_URL": "nope"}, "AMQP_URL"),
])
def test_cli_stops_with_one_line_and_exit_2(command, env, needle):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))}
    done = subprocess.run([sys.executable, "-m", "bridge", *command], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
