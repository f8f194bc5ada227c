"""The builtin transforms' specs (registered by the builtin plugin `plugins/transforms.py`).

Each spec's options become flags of every format; see docs/transforms.md.
"""

from __future__ import annotations

from ..formats import Option
from .classes import setup_classes
from .filters import MAX_BOXES_POLICIES, setup_filters
from .near_duplicates import DEFAULT_DISTANCE, MAX_DISTANCE, POLICIES, setup_near_duplicates
from .resize import IMAGE_FORMATS, setup_resize
from .spec import TransformSpec
from .split_setup import setup_split
from .stratify import ASSIGNMENT

CLASSES = TransformSpec(
    "classes", "rename, merge, keep or drop classes", setup_classes, stage="before", order=10,
    options=(
        Option("remap", "rename classes: OLD=NEW pairs, comma-separated (several OLD may share "
               "a NEW: merged)", "str", metavar="'van=car,Truck=truck'"),
        Option("keep_classes", "keep only objects of these classes (names after --remap)",
               "list", metavar="A,B"),
        Option("drop_classes", "drop objects of these classes (names after --remap)", "list",
               metavar="A,B"),
    ))

FILTERS = TransformSpec(
    "filters", "leave out small boxes, extra boxes and empty images", setup_filters,
    stage="after", order=10,
    options=(
        Option("min_box_size", "drop objects narrower or shorter than PX pixels", "float",
               metavar="PX"),
        Option("max_boxes", "at most N objects per image (see --max-boxes-policy)", "int",
               metavar="N"),
        Option("max_boxes_policy", "over --max-boxes: keep the largest, keep the first, or skip "
               "the image (default largest)", "choice", choices=MAX_BOXES_POLICIES),
        Option("drop_empty", "leave out images without objects (after the other filters)",
               "bool", default=False),
        Option("keep_empty", "keep images without objects (the default)", "bool",
               default=False),
    ))

SPLIT = TransformSpec(
    "split", "write one output per split, chosen by a stable hash", setup_split,
    stage="after", order=20, derived=(ASSIGNMENT,),
    options=(
        Option("split", "write one output per split: NAME=SHARE pairs adding up to 1 "
               "(out/data.record -> out/data_train.record, ...)", "str",
               metavar="train=0.8,val=0.2", aliases=("--split-ratios",)),
        Option("split_seed", "seed of the split hash (another seed, another split)", "int",
               default=0, metavar="N"),
        Option("split_by", "what the split hash reads: the image content or the source id",
               "choice", choices=("content", "id"), default="content"),
        Option("group_by", "a regular expression; images whose file name (else source id) "
               "gives the same match (or first group) share a split", "str",
               metavar="PATTERN"),
        Option("stratify", "keep each class's share of images per split within "
               "--stratify-tolerance (planned from the annotations before the run; adding "
               "images can move others)", "bool", default=False),
        Option("stratify_tolerance", "how far a class's share of images may be from each "
               "split's share (default 0.05: five points)", "float", metavar="SHARE"),
    ))

RESIZE = TransformSpec(
    "resize", "shrink and re-encode images", setup_resize, stage="after", order=30,
    options=(
        Option("max_side", "shrink images whose longer side exceeds N pixels (aspect kept)",
               "int", metavar="N"),
        Option("jpeg_quality", "JPEG quality of re-encoded images (default 95; alone: "
               "re-encode every JPEG)", "int", metavar="Q"),
        Option("image_format", "format of the stored images: keep, jpeg or png", "choice",
               choices=IMAGE_FORMATS, default="keep"),
    ))

NEAR_DUPLICATES = TransformSpec(
    "near_duplicates", "report images that look alike in different splits (leakage)",
    setup_near_duplicates, stage="after", order=25,
    options=(
        Option("near_duplicates", "report pairs of images in different splits that look alike "
               "(a perceptual hash; see --near-duplicate-distance)", "bool", default=False),
        Option("near_duplicate_distance", "how many of the hash's 64 bits may differ "
               f"(0-{MAX_DISTANCE}, default {DEFAULT_DISTANCE})", "int", metavar="N"),
        Option("on_near_duplicate", "a near-duplicate pair across splits: warn (report it, "
               "the default) or error (stop; nothing is published)", "choice",
               choices=POLICIES),
    ))

BUILTIN_TRANSFORMS = (CLASSES, FILTERS, SPLIT, RESIZE, NEAR_DUPLICATES)
