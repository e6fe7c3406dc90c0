"""The data sets: downloads (``download``), image archives, IMDB, CUB-200-2011, Oxford-102 and
Paper B's class split. Imports only ``helpers.core``."""
