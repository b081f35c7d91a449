"""Transports: how composed messages leave (an outbox folder of .eml files, or SMTP)."""
