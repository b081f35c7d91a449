"""Emails and pages, rendered and composed (core, pure): templates, what they see, slots that
render once for many recipients, MIME encoding, the composer, notices to the organiser, and
the checks `mailer check` runs.
"""
