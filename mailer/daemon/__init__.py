"""`mailer daemon` (interface): the long-running process, the only package that imports
APScheduler; it reloads the project when a file changes and runs the sending service.
"""
