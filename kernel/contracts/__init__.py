"""Every schema of the platform in one place: fields, events, commands, the envelope."""
