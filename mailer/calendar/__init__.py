"""Events and calendar files (core, pure): VTIMEZONEs, the session told in words, revisions
(SEQUENCE and DTSTAMP), the .ics of a session or of the series, and add-to-calendar links.
"""
