"""The notifier: delivers signed webhooks for finished imports and keeps their delivery log."""
