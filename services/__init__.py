"""The platform's services, one package each (see the README's architecture section)."""
