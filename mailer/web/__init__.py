"""The daemon's web side (interface, aiohttp): one-click unsubscribe, the calendar feed, health
and metrics.
"""
