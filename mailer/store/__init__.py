"""The state file (adapter: SQLite) and the locks beside it: the schema, the send ledger, event
revisions and the suppression list.
"""
