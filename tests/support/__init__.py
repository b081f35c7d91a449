"""What the tests share: the shipped project and ways to change a copy of it, the independent
calendar parsers, a real SMTP server, a real browser, and sample emails and lists.

Test modules import from here, never from each other."""
