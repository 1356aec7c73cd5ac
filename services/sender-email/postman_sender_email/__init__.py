"""The sender-email service."""
