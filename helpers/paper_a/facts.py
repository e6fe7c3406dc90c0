"""Paper A's facts (Benarab): the numbers of its Table I and the settings it states.

Every number the book compares with, or copies from the paper, is defined here once; the
recipes (:mod:`helpers.paper_a.head_recipes`), the tables and the book's answers read it.
"""

from __future__ import annotations

#: the five rows of Table I: torchvision names of the ImageNet models whose early layers are frozen.
#: The paper's "ResNet" is wide_resnet50_2 and "ResNext" resnext50_32x4d (section III.C).
EXTRACTORS = ("alexnet", "wide_resnet50_2", "resnext50_32x4d", "shufflenet_v2_x1_0", "vgg16")

#: The paper's Table I (section IV.B): auto-encoder lr, classifier lr, validation accuracy (+-).
TABLE_I = {
    "alexnet": (1e-5, 5e-4, 0.81, 0.01),
    "wide_resnet50_2": (5e-5, 1e-4, 0.82, 0.01),
    "resnext50_32x4d": (5e-5, 1e-3, 0.82, 0.01),
    "shufflenet_v2_x1_0": (5e-4, 1e-3, 0.81, 0.01),
    "vgg16": (5e-5, 1e-3, 0.81, 0.01),
}
assert tuple(TABLE_I) == EXTRACTORS

#: the validation accuracies of Table I's five rows span 0.81-0.82
VAL_ACC_RANGE = (min(r[2] for r in TABLE_I.values()), max(r[2] for r in TABLE_I.values()))

#: epochs and batch size of the authors' code (the paper does not give them)
EPOCHS, BATCH_SIZE = 15, 32

PAPER_UPSAMPLE = 3  # 50 px -> 150 px (``interpolate(..., scale_factor=3)`` in the authors' code)
PAPER_SPLIT_SEED = 42  # the authors' seed for torch.utils.data.random_split

#: the data the paper states: all 50,000 labelled IMDB reviews, split 40,000 / 10,000 at random
#: (an 80 / 20 split), each a stack of 6 x 768 [CLS] numbers shown as a 50 x 50 image
N_REVIEWS, N_TRAIN, N_VAL = 50_000, 40_000, 10_000
TRAIN_FRACTION = N_TRAIN / N_REVIEWS
CLS_LAYERS, BERT_HIDDEN, IMAGE_SIDE = 6, 768, 50
N_FEATURES, N_PIXELS = CLS_LAYERS * BERT_HIDDEN, IMAGE_SIDE**2
#: dropout of the first two dense layers of the classifier (section III.D)
DROPOUT = 0.3
#: the authors' code, not the text (first commit): the auto-encoder's dropout per row, in its
#: four convolution blocks (ResNet 0.2; ResNeXt, ShuffleNet and VGG 0.05)
AUTHORS_AE_DROPOUT = {
    "wide_resnet50_2": 0.2,
    "resnext50_32x4d": 0.05,
    "shufflenet_v2_x1_0": 0.05,
    "vgg16": 0.05,
}
AUTHORS_AE_BLOCKS = 4
#: the official IMDB halves the 50,000 reviews come from (Maas et al. 2011: 25,000 each)
IMDB_OFFICIAL_SPLIT = 25_000
#: the authors' code (not the paper's text): upsampled size and epochs, t-SNE iterations of 2021
UPSAMPLED_SIDE = IMAGE_SIDE * PAPER_UPSAMPLE
TSNE_ITERATIONS_2021 = 1_000

# --- not the paper's: the names of the book's control rows beside Table I's ------------------
#: Table A1's control rows are named "<slice><suffix>": the slice randomly initialised (notebook
#: 03's random control) and the ImageNet slice on notebook 02's layout-control images.
RANDOM_SUFFIX, LAYOUT_SUFFIX = "_random", "_layout"
CONTROL_SUFFIXES = {RANDOM_SUFFIX: "random init", LAYOUT_SUFFIX: "random layout"}


def slice_of(row: str) -> str:
    """The ImageNet slice behind a Table A1 row (``alexnet_random``, ``alexnet_layout`` -> ``alexnet``)."""
    for suffix in CONTROL_SUFFIXES:
        if row.endswith(suffix):
            return row.removesuffix(suffix)
    return row
