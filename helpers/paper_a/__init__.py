"""Paper A (Benarab): DeepInsight, the frozen ImageNet slices, the trainable heads, Table A1 and
Figures A1-A6; its facts are in ``facts``. Imports ``core``, ``data`` and ``models``."""
