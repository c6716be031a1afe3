"""Ops CLI of the portal platform: run the stack, seed demo data, rebuild, status."""
