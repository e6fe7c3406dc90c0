"""Paper B (Schmelczer): retrieval data, the text -> image projection, retrieval metrics,
Tables B1-B2 and Figures B1-B10; its facts are in ``facts``. Imports ``core``, ``data`` and
``models``."""
