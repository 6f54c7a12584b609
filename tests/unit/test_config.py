from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings


def test_defaults_match_the_readme() -> None:
    s = load_settings(_env_file=None)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.port == 3000
    assert s.database_url == "sqlite:///passcode-bot.db"
    assert s.backend == "simulated"
    assert s.azure_authority_host == "https://login.microsoftonline.com"
    assert s.graph_api_url == "https://graph.microsoft.com"
    assert s.approval_timeout == timedelta(hours=24)
    assert s.job_lease_seconds == 120


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PASSCODE_BOT_SECRET": "too-short"}, "PASSCODE_BOT_SECRET"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        ({"PORT": "seventy"}, "PORT"),
        ({"BACKEND": "jamf"}, "BACKEND"),
        ({"APPROVAL_TIMEOUT": "soon"}, "APPROVAL_TIMEOUT"),
        ({"APPROVAL_TIMEOUT": "-5"}, "APPROVAL_TIMEOUT"),
        ({"AZURE_AUTHORITY_HOST": "http://login.example"}, "AZURE_AUTHORITY_HOST"),
        ({"GRAPH_API_URL": "http://graph.example"}, "GRAPH_API_URL"),
        ({"GRAPH_API_URL": "graph.microsoft.com"}, "GRAPH_API_URL"),
        ({"PERSON_ACTIONS_PER_MINUTE": "-1"}, "PERSON_ACTIONS_PER_MINUTE"),
        ({"JOB_LEASE_SECONDS": "9"}, "JOB_LEASE_SECONDS"),
        ({"JOB_LEASE_SECONDS": "soon"}, "JOB_LEASE_SECONDS"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_the_variable(
    env: dict[str, str], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_a_dotenv_file_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("APPROVALS_CHANNEL=C0APPROVE\nAPPROVAL_TIMEOUT=3600\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.approvals_channel == "C0APPROVE"
    assert s.approval_timeout == timedelta(hours=1)


def test_log_format_comes_from_the_dotenv_file_too(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """It was read from the process environment alone, so a .env's LOG_FORMAT did nothing."""
    (tmp_path / ".env").write_text("LOG_FORMAT=JSON\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().log_format == "json"


def test_the_ca_bundle_comes_from_the_dotenv_file_too(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The Graph client read SSL_CERT_FILE and REQUESTS_CA_BUNDLE from the process
    environment alone; now they are settings, SSL_CERT_FILE first."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("REQUESTS_CA_BUNDLE=/etc/corp/ca.pem\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().ca_bundle == "/etc/corp/ca.pem"
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/mine.pem")
    assert load_settings().ca_bundle == "/etc/ssl/mine.pem"
    assert load_settings(_env_file=None, ssl_cert_file="", requests_ca_bundle="").ca_bundle is None


def test_a_bare_authority_host_gets_https() -> None:
    s = load_settings(_env_file=None, azure_authority_host="login.microsoftonline.us/")
    assert s.azure_authority_host == "https://login.microsoftonline.us"


def test_every_setting_is_documented_in_the_readme() -> None:
    """The README's configuration table names every variable Settings reads."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration"):readme.index("### Rotating the key")]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", table, flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= documented
