"""mailer: invitations and reminders for a recurring online meeting series."""

__version__ = "0.1.0"
