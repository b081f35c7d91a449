"""The project on disk (adapter): loading config.toml, session files and templates, reading the
mailing lists, the files the daemon watches, the clock, and the workspace, the one
composition root that reads the clock, the environment and the files and builds the adapters.
"""
