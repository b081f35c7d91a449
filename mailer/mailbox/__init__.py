"""The mailbox adapter: reading and filing incoming mail over IMAP."""
