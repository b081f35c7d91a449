"""Who a send reaches (core, pure): addresses, mailing-list CSV records, recipients, segments
resolved into one email per person, and unsubscribe tokens. Opening the list files is
`mailer.project.lists`'s job.
"""
