"""Baseline (d): the Django project anyone would write in an afternoon to take conversions.

`startproject`'s settings, one model, one view doing `json.loads` + `get_or_create`: no token, no
validation, no deliveries. The bench serves it with the same gunicorn flags as our API, on a
database of its own, and measures it with the same load generator as our single ingest.
"""
