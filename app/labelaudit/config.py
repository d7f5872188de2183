"""Settings: every configurable limit and default, named once.

Read from the environment with the ``LABELAUDIT_`` prefix (``LABELAUDIT_DATA_DIR``,
``LABELAUDIT_DEVICE``, ...) or a ``.env`` file. Build them with :func:`get_settings`
rather than at import time so tests can vary them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from labelaudit.audit.ingest.limits import IngestLimits


class Settings(BaseSettings):
    """labelaudit configuration (environment prefix ``LABELAUDIT_``)."""

    model_config = SettingsConfigDict(env_prefix="LABELAUDIT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("labelaudit-data"), description="Artifacts and the default SQLite file live here.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset means a SQLite file in data_dir.")
    weights_dir: Path | None = Field(None, description="Pretrained weights API callers may name "
                                                       "(backbone_options.weights, relative to it); unset: none.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=0, description="In-process audit workers started by `labelaudit serve`.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1)
    max_rows: int = Field(5_000_000, ge=1)
    max_classes: int = Field(1000, ge=2)
    min_rows: int = Field(10, ge=2, description="Smallest dataset an audit accepts.")
    max_values_per_example: int = Field(3 * 1024 * 1024, ge=1,
                                        description="Features per row, or pixels x channels per image.")
    max_table_columns: int = Field(100_000, ge=1, description="Columns of a CSV or Parquet table, checked before "
                                                               "it is parsed.")
    max_array_bytes: int = Field(8 * 1024**3, ge=1, description="Bytes of one IDX or .npy array, checked against "
                                                                "its header before anything is allocated.")
    max_zip_uncompressed_bytes: int = Field(8 * 1024**3, ge=1, description="Bytes the files of an image or NPZ "
                                                                           "archive may unpack to, together.")
    max_zip_members: int = Field(2_000_000, ge=1, description="Files in an image or NPZ archive.")
    max_zip_ratio: int = Field(1000, ge=1, description="Compression ratio of one archive file over 1 MiB (beyond: "
                                                       "a likely zip bomb).")
    max_zip_pixels: int = Field(1 << 30, ge=1, description="Pixels the images of an archive may decode to, "
                                                           "together.")
    max_active_jobs_per_tenant: int = Field(8, ge=1, description="Queued + running audits per tenant (429 beyond).")
    max_storage_bytes_per_tenant: int = Field(20 * 1024 ** 3, ge=0,
                                              description="Artifact bytes per tenant (507 beyond).")
    request_timeout_seconds: float = Field(60.0, gt=0, description="Longest a request (but an upload) may take.")
    upload_timeout_seconds: float = Field(900.0, gt=0, description="Longest an upload request may take.")
    default_folds: int = Field(5, ge=2, le=20)
    default_seed: int = 0
    heartbeat_seconds: float = Field(2.0, gt=0, description="How often a worker stamps its running audit.")
    stale_after_seconds: float = Field(60.0, gt=0, description="A running audit without a heartbeat this long is requeued.")
    worker_poll_seconds: float = Field(0.5, gt=0, description="How long an idle worker waits before polling the queue.")
    max_attempts: int = Field(3, ge=1, description="Claims of one audit before it is failed instead of requeued.")
    log_format: Literal["json", "text"] = Field(
        "json", description="serve/worker logs on stderr: `json` (one object per line, with request_id, audit_id, "
                            "worker_id) or `text` (the same fields as key=value).")
    auth: Literal["on", "off"] = Field(
        "on", description="`on`: /v1 requests need `Authorization: Bearer <key>` (or X-API-Key) and see only their "
                          "tenant's data. `off`: local single-user mode, everything belongs to tenant `local` "
                          "(`make run` sets it; the server logs a warning).")
    executor: Literal["local", "ray"] = Field(
        "local", description="Who trains the cross-validation folds: `local` (one after another in the worker "
                             "process) or `ray` (one Ray task per fold; needs the `ray` extra).")
    ray_address: str | None = Field(
        None, validation_alias=AliasChoices("ray_address", "RAY_ADDRESS"),
        description="The Ray cluster to use (Ray's own `RAY_ADDRESS`, e.g. `ray://ray-head:10001`); "
                    "unset: a local Ray started on first use.")
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs of a locally started Ray (unset: all).")
    ray_cpus_per_fold: float = Field(1.0, gt=0, description="CPUs each fold's Ray task requests.")
    ray_gpus_per_fold: float | None = Field(
        None, ge=0, description="GPUs each fold's Ray task requests when it trains a torch model; fractions "
                                "(0.25) share a GPU between folds. Unset: 1 when the cluster has GPUs, else 0.")
    ray_max_retries: int = Field(2, ge=0, le=10, description="Retries of a fold whose Ray task failed or "
                                                              "whose worker died (not of bad options or cancels).")
    ray_torch_threads: int = Field(
        0, ge=0, description="Torch threads in each fold's Ray task. 0: as many as the local executor uses in "
                             "this process, so pred_probs are identical to a local run; set it to "
                             "ray_cpus_per_fold to avoid oversubscribing CPU workers (results then differ "
                             "from a local run in the last digits).")

    def ingest_limits(self) -> IngestLimits:
        """The limits uploads are read under (:class:`~labelaudit.audit.ingest.IngestLimits`)."""
        from labelaudit.audit.ingest.limits import IngestLimits  # lazy: importing ingest loads numpy

        return IngestLimits(
            min_rows=self.min_rows, max_rows=self.max_rows, max_classes=self.max_classes,
            max_values_per_example=self.max_values_per_example, max_table_columns=self.max_table_columns,
            max_array_bytes=self.max_array_bytes, max_zip_uncompressed_bytes=self.max_zip_uncompressed_bytes,
            max_zip_members=self.max_zip_members, max_zip_ratio=self.max_zip_ratio,
            max_zip_pixels=self.max_zip_pixels)

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, else SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelaudit.sqlite').resolve()}"


def get_settings(**overrides) -> Settings:
    """Fresh settings from the environment, with keyword overrides applied on top."""
    return Settings(**overrides)
