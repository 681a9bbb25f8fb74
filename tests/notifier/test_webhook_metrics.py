"""ferry_webhook_attempts_total counts each delivery attempt by its outcome."""

from __future__ import annotations

from tests.notifier.test_webhooks import make_event, publish, settled, wait_for_attempts
from tests.shared.test_metrics import sample


async def test_webhook_attempts_counted_by_outcome(js, ledger, make_receiver, start_notifier):
    receiver = make_receiver([500, 500, 200])
    notifier = await start_notifier(retry_schedule=(0.2, 0.2, 0.2))
    event = make_event(ledger.add_account()[0], receiver.url)
    retrying_before = sample("ferry_webhook_attempts_total", outcome="retrying")
    delivered_before = sample("ferry_webhook_attempts_total", outcome="delivered")

    await publish(js, event)
    await wait_for_attempts(notifier, event, settled)

    assert sample("ferry_webhook_attempts_total", outcome="retrying") == retrying_before + 2
    assert sample("ferry_webhook_attempts_total", outcome="delivered") == delivered_before + 1
