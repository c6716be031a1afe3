"""The identity service: contacts, identity verification, portal sessions and settings."""
