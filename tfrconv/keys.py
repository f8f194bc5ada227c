"""The OD API's `tf.train.Example` feature keys: the one place they are spelled.

The writer (`tfrconv.example`) and every reader (inspect, verify, draw, the trainer, formats
such as KITTI) name keys through these constants, so a mistyped key is a NameError instead of a
feature that is silently never found. A test fails on an ``"image/..."`` literal anywhere else
in `tfrconv/` or `plugins/`.

Each constant is named after its key: the part after ``image/``, upper case, ``/`` → ``_``
(``image/object/bbox/xmin`` → ``OBJECT_BBOX_XMIN``); a test holds every name to that rule.
Keys and types follow `object_detection/core/standard_fields.py` and the decoder
`object_detection/data_decoders/tf_example_decoder.py`; what the decoder expects of each key
is in `tfrconv.features.DECODER_KEYS`.
"""

from __future__ import annotations

# -- the image -------------------------------------------------------------------------------
ENCODED = "image/encoded"
FORMAT = "image/format"
FILENAME = "image/filename"
SOURCE_ID = "image/source_id"
KEY_SHA256 = "image/key/sha256"
HEIGHT = "image/height"
WIDTH = "image/width"

# -- image-level labels (Open Images): classes present, their confidence, verified negatives ---
CLASS_TEXT = "image/class/text"
CLASS_LABEL = "image/class/label"
CLASS_CONFIDENCE = "image/class/confidence"
NEG_CATEGORY_IDS = "image/neg_category_ids"
NOT_EXHAUSTIVE_CATEGORY_IDS = "image/not_exhaustive_category_ids"

# -- one value per object: boxes (normalized), class, flags ------------------------------------
OBJECT_BBOX_XMIN = "image/object/bbox/xmin"
OBJECT_BBOX_YMIN = "image/object/bbox/ymin"
OBJECT_BBOX_XMAX = "image/object/bbox/xmax"
OBJECT_BBOX_YMAX = "image/object/bbox/ymax"
OBJECT_CLASS_TEXT = "image/object/class/text"
OBJECT_CLASS_LABEL = "image/object/class/label"
OBJECT_AREA = "image/object/area"
OBJECT_IS_CROWD = "image/object/is_crowd"
OBJECT_DIFFICULT = "image/object/difficult"
OBJECT_GROUP_OF = "image/object/group_of"
OBJECT_WEIGHT = "image/object/weight"

# -- per object, read by the decoder only when the pipeline config switches them on ------------
OBJECT_MASK = "image/object/mask"
OBJECT_MASK_WEIGHT = "image/object/mask/weight"
OBJECT_KEYPOINT_X = "image/object/keypoint/x"
OBJECT_KEYPOINT_Y = "image/object/keypoint/y"
OBJECT_KEYPOINT_VISIBILITY = "image/object/keypoint/visibility"
OBJECT_KEYPOINT_Z = "image/object/keypoint/z"
OBJECT_KEYPOINT_Z_WEIGHTS = "image/object/keypoint/z/weights"
OBJECT_DENSEPOSE_NUM = "image/object/densepose/num"
OBJECT_DENSEPOSE_PART_INDEX = "image/object/densepose/part_index"
OBJECT_DENSEPOSE_X = "image/object/densepose/x"
OBJECT_DENSEPOSE_Y = "image/object/densepose/y"
OBJECT_DENSEPOSE_U = "image/object/densepose/u"
OBJECT_DENSEPOSE_V = "image/object/densepose/v"
OBJECT_TRACK_LABEL = "image/object/track/label"
OBJECT_CLASS_MULTICLASS_SCORES = "image/object/class/multiclass_scores"

# -- per image, read by the decoder only when switched on --------------------------------------
CONTEXT_FEATURES = "image/context_features"
CONTEXT_FEATURE_LENGTH = "image/context_feature_length"
ADDITIONAL_CHANNELS_ENCODED = "image/additional_channels/encoded"

# -- per object, written by converters for evaluators and tools; the decoder never reads them --
OBJECT_TRUNCATED = "image/object/truncated"
OBJECT_OCCLUDED = "image/object/occluded"
OBJECT_VIEW = "image/object/view"
OBJECT_DEPICTION = "image/object/depiction"
OBJECT_INSIDE = "image/object/inside"
OBJECT_ALPHA = "image/object/alpha"
# KITTI's 3D box (camera coordinates, metres; rotation around the y axis in radians).
OBJECT_3D_BBOX_HEIGHT = "image/object/3d_bbox/height"
OBJECT_3D_BBOX_WIDTH = "image/object/3d_bbox/width"
OBJECT_3D_BBOX_LENGTH = "image/object/3d_bbox/length"
OBJECT_3D_BBOX_X = "image/object/3d_bbox/x"
OBJECT_3D_BBOX_Y = "image/object/3d_bbox/y"
OBJECT_3D_BBOX_Z = "image/object/3d_bbox/z"
OBJECT_3D_BBOX_ROT_Y = "image/object/3d_bbox/rot_y"

# -- groups ------------------------------------------------------------------------------------
# The box columns in the order the writer takes them (xmin, ymin, xmax, ymax).
BOX_KEYS = (OBJECT_BBOX_XMIN, OBJECT_BBOX_YMIN, OBJECT_BBOX_XMAX, OBJECT_BBOX_YMAX)

# Every key above.
ALL = frozenset(value for name, value in list(globals().items())
                if name.isupper() and isinstance(value, str))
