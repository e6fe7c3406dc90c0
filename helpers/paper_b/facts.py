"""Paper B's facts (Schmelczer): its Tables 1 and 2 and the names it gives the models.

Every number the book compares with is defined here once.
"""

from __future__ import annotations

#: Tables 1 and 2 of the paper (sourcefiles/report/sections/results.tex of schmelczer/mir-final)
PAPER_TABLES = {
    "cub": {
        ("DistilBERT", "VGG"): (0.19, 0.25, 0.19, 0.19, 0.43),
        ("DistilBERT", "ResNet"): (0.11, 0.17, 0.11, 0.10, 0.32),
        ("DistilBERT", "Inception v3"): (0.12, 0.33, 0.11, 0.11, 0.29),
        ("TF-IDF", "VGG"): (0.11, 0.28, 0.11, 0.11, 0.33),
        ("TF-IDF", "ResNet"): (0.10, 0.33, 0.10, 0.09, 0.24),
        ("TF-IDF", "Inception v3"): (0.10, 0.38, 0.10, 0.09, 0.21),
    },
    "flowers": {
        ("DistilBERT", "VGG"): (0.37, 0.30, 0.27, 0.23, 0.57),
        ("DistilBERT", "ResNet"): (0.36, 0.31, 0.26, 0.24, 0.53),
        ("DistilBERT", "Inception v3"): (0.40, 0.29, 0.29, 0.27, 0.58),
        ("TF-IDF", "VGG"): (0.20, 0.28, 0.16, 0.13, 0.46),
        ("TF-IDF", "ResNet"): (0.18, 0.28, 0.13, 0.12, 0.33),
        ("TF-IDF", "Inception v3"): (0.24, 0.24, 0.17, 0.15, 0.43),
    },
}


PAPER_TEXT_NAMES = {"distilbert-base-uncased": "DistilBERT", "tfidf": "TF-IDF"}
PAPER_IMAGE_NAMES = {"vgg11_bn": "VGG", "resnet18": "ResNet", "inception_v3": "Inception v3"}

#: the scale of the earlier work Paper B cites: Reed et al. (2016), Table 1: zero-shot top-1 on CUB of their best text encoder (DS-SJE with a
#: word-CNN-RNN), on their own 50 test classes and with their own image features
REED_CUB_TOP1 = 0.568
#: Reed et al. (2016)'s other published numbers: AP@50 on CUB, top-1 and AP@50 on flowers
REED_CUB_AP50, REED_FLOWERS_TOP1, REED_FLOWERS_AP50 = 0.487, 0.656, 0.596
#: the paper's TF-IDF vocabulary ("about 7,000 words")
PAPER_TFIDF_VOCABULARY = 7_000
#: the authors' early matching notebook draws the bipartite graph on a random 7.5 % of the indices
AUTHORS_GRAPH_SHARE = 0.075

#: the data sets' published sizes (Wah et al. 2011; Nilsback and Zisserman 2008); the paper says
#: "nearly 12 thousand" and "about 8 thousand"
DATASET_IMAGES = {"cub": 11_788, "flowers": 8_189}
#: class-disjoint split (section 2): 7 : 3 of the classes, then 80 / 20 of the training classes' data
TEST_CLASS_FRACTION, TRAIN_FRACTION = 0.3, 0.8
#: the paper's words on the image classifiers (section 4): best validation accuracy "barely over
#: 80%" on birds, "nearly perfect" on flowers
BEST_IMAGE_VAL_ACC = {"cub": 0.8, "flowers": 1.0}
#: the authors' code (``embed.py``), not the paper's text: SGD image fine-tuning
AUTHORS_IMAGE_SGD = {"lr": 1e-3, "momentum": 0.9, "batch_size": 32, "epochs": 20, "aux_weight": 0.4}
