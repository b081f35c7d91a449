"""How each language writes things (core: Babel and CLDR data, pure): the labels mailer
writes itself (`labels.py`) and dates, times and lists (`dates.py`).
"""
