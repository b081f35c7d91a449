"""Transports (adapter): how composed messages leave: an outbox folder of .eml files, SMTP, or
memory (simulations). `base.py` is the seam the sending engine talks to."""
