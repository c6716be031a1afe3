"""notifications: e-mail to customers about their tickets, sent from an outbox it fills by
following the event store."""
