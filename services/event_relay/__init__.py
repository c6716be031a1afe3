"""The outbox relay: every appended event reaches RabbitMQ, even if its writer died."""
