"""config.toml and the session files, as validated records (core: pure, takes text).

`settings.py` holds the records every layer reads; `validate.py` turns config.toml's text into
them, reading each table through `tables.py`, and `sessions.py` validates a session file.
Reading the files is `mailer.project`'s job.
"""
