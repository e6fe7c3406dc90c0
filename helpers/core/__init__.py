"""The book's core: where things live (``config``), errors, the artifact store and its code keys,
model choices (``weights``), what a page shows (``report``) and reading a recorded run
(``recorded``). Imports nothing else of ``helpers``."""
