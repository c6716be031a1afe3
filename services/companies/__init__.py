"""The companies service: customer organizations and which contacts belong to them."""
