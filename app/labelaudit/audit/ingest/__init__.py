"""Read datasets from files or bytes and validate them once, at the door.

Formats: CSV and Parquet tables and pandas DataFrames (:func:`from_dataframe`: columns of any
type, each given a role by :mod:`.roles`, and a label column), NPZ arrays
(``X``, ``y``, optional ``class_names``), IDX image/label pairs (as MNIST ships
them, raw or gzip), zip archives of images in class folders, and the caller's own
out-of-sample predicted probabilities (``pred_probs`` plus labels, as ``.npy``
files or one NPZ).

Every problem raises one :class:`~labelaudit.errors.IngestError` that names the field
and the reason; what comes out is a :class:`~labelaudit.audit.dataset.Dataset` whose
arrays later steps can trust. Every limit is a field of one :class:`IngestLimits`.

Modules: one per format (:mod:`.tables`, :mod:`.arrays` for NPZ and in-memory
arrays, :mod:`.idx`, :mod:`.images`, :mod:`.pred_probs`); what they share
(:mod:`.sources`, :mod:`.archives`, :mod:`.npy`, :mod:`.labels`, :mod:`.messages`);
and :mod:`.detection`, :mod:`.readers` (the registry of readers by format),
:mod:`.validation` and :mod:`.load` (:func:`load_dataset`).
"""

from __future__ import annotations

from labelaudit.audit.ingest.archives import ZIP_METHODS
from labelaudit.audit.ingest.arrays import from_arrays, read_npz
from labelaudit.audit.ingest.detection import FORMATS, detect_format
from labelaudit.audit.ingest.frame import from_dataframe
from labelaudit.audit.ingest.idx import read_idx, read_idx_array
from labelaudit.audit.ingest.images import IMAGE_EXTENSIONS, read_image_zip
from labelaudit.audit.ingest.limits import IngestLimits
from labelaudit.audit.ingest.load import load_dataset
from labelaudit.audit.ingest.npy import read_npy
from labelaudit.audit.ingest.pred_probs import PRED_PROBS_TOLERANCE, from_pred_probs, read_pred_probs
from labelaudit.audit.ingest.readers import READERS, ReadOptions
from labelaudit.audit.ingest.roles import ColumnInfo, RoleOverrides, infer_roles
from labelaudit.audit.ingest.sources import Source
from labelaudit.audit.ingest.tables import DEFAULT_LABEL_COLUMN, TRUE_LABEL_COLUMN, read_table
from labelaudit.audit.ingest.validation import validate_dataset

__all__ = [
    "DEFAULT_LABEL_COLUMN",
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "PRED_PROBS_TOLERANCE",
    "READERS",
    "TRUE_LABEL_COLUMN",
    "ZIP_METHODS",
    "ColumnInfo",
    "IngestLimits",
    "RoleOverrides",
    "ReadOptions",
    "Source",
    "detect_format",
    "from_arrays",
    "from_dataframe",
    "infer_roles",
    "from_pred_probs",
    "load_dataset",
    "read_idx",
    "read_idx_array",
    "read_image_zip",
    "read_npy",
    "read_npz",
    "read_pred_probs",
    "read_table",
    "validate_dataset",
]
