"""What each command does, returning data (service): the series (`project.py`), the mailing
lists (`lists.py`), sending and the daemon's plan (`send.py`). The CLI and the daemon call
the same code.
"""
