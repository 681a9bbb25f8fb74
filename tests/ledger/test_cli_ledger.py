"""The `ferry` account, key, credit and limit commands against a real ledger process."""

from __future__ import annotations

import json

from tests.ledger.test_cli import ferry, ledger_process  # noqa: F401 (a fixture)


def run_json(address: str, *args: str) -> dict:
    result = ferry(*args, env={"FERRY_LEDGER_ADDR": address})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_keys_credits_limits(ledger_process):  # noqa: F811
    address, log_path = ledger_process
    created = run_json(address, "accounts", "create", "--name", "cli", "--credits", "100",
                       "--concurrent-imports", "4")
    account_id = created["accountId"]

    key = run_json(address, "keys", "create", account_id, "--name", "ci")
    revoked = run_json(address, "keys", "revoke", account_id, str(key["keyId"]))
    listed = run_json(address, "keys", "list", account_id)
    granted = run_json(address, "credits", "grant", account_id, "50", "--reason", "top-up")
    adjusted = run_json(address, "credits", "adjust", account_id, "-30", "--reason", "fix")
    entries = run_json(address, "credits", "entries", account_id, "--limit", "2")
    limits = run_json(address, "accounts", "limits", account_id, "--status-per-hour", "100")
    shown = run_json(address, "accounts", "show", account_id)
    rotated = run_json(address, "webhook-secrets", "rotate", account_id,
                       "--overlap-seconds", "60")
    overdrawn = ferry("credits", "adjust", account_id, "-121", "--reason", "x",
                      env={"FERRY_LEDGER_ADDR": address})
    zero_limit = ferry("accounts", "limits", account_id, "--concurrent-imports", "0",
                       env={"FERRY_LEDGER_ADDR": address})

    assert key["apiKey"].startswith("fry_")
    assert revoked["revokedAt"] is not None
    assert [(k["name"], k["revokedAt"] is None) for k in listed["keys"]] == [
        ("default", True), ("ci", False)
    ]
    assert granted["balance"] == 150
    assert adjusted["entry"]["amount"] == -30
    assert [entry["amount"] for entry in entries["entries"]] == [-30, 50]
    assert entries["nextCursor"] is not None
    assert limits["limits"]["status"] == {"perHour": 100}
    assert shown["balance"] == 120
    assert shown["limits"]["imports"] == {"perHour": 240, "concurrent": 4}
    assert rotated["webhookSecret"].startswith("whsec_")
    assert overdrawn.returncode == 1
    assert overdrawn.stderr.count("\n") == 1
    assert "remove at most 120" in overdrawn.stderr
    assert zero_limit.returncode == 1
    assert "concurrent_imports must be from 1" in zero_limit.stderr
    for secret in (key["apiKey"], created["apiKey"], rotated["webhookSecret"]):
        assert secret not in log_path.read_text()
