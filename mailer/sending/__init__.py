"""The sending service: which emails fall due when (`cadence.py`, pure), plan -> record ->
send -> record (`plan.py`, `run.py`, `engine.py`, `pacing.py`, `workers.py`), and the daemon's
work without its scheduler (`due.py`).
"""
