"""Settings: everything a deployer may change, named once.

Read from the environment with the ``LABELAUDIT_`` prefix (``LABELAUDIT_DATA_DIR``,
``LABELAUDIT_DEVICE``, ...) or a ``.env`` file. Build them with :func:`get_settings`
rather than at import time so tests can vary them. The fields come in groups
(``storage``, ``server``, ``limits``, ``worker``, ``auth``, ``ray``: see :data:`GROUPS`);
``docs/configuration.md`` has one table per group, checked against this class by a test.
Constants of the algorithms, which a deployer has no reason to change, live with
their reasons in :mod:`labelaudit.core.constants`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from labelaudit.core.ingest.limits import IngestLimits

#: The groups of settings, in the order the docs list them.
GROUPS = ("storage", "server", "limits", "worker", "auth", "ray")


def _field(default: Any, group: str, description: str, **kwargs) -> Any:
    return Field(default, description=description, json_schema_extra={"group": group}, **kwargs)


class Settings(BaseSettings):
    """labelaudit configuration (environment prefix ``LABELAUDIT_``)."""

    model_config = SettingsConfigDict(env_prefix="LABELAUDIT_", env_file=".env", extra="ignore")

    # -- storage ------------------------------------------------------------------------------------
    data_dir: Path = _field(Path("labelaudit-data"), "storage",
                            "Artifacts, upload temp files and the default SQLite file live here.")
    database_url: str | None = _field(None, "storage", "SQLAlchemy URL; unset means a SQLite file in data_dir.")
    weights_dir: Path | None = _field(None, "storage", "Pretrained weights API callers may name "
                                                       "(backbone_options.weights, relative to it); unset: none.")

    # -- server -------------------------------------------------------------------------------------
    host: str = _field("127.0.0.1", "server", "Address `labelaudit serve` listens on.")
    port: int = _field(8000, "server", "Port `labelaudit serve` listens on.", ge=1, le=65535)
    processes: int = _field(1, "server", "HTTP server processes `labelaudit serve` runs on the one port (the "
                                         "audit workers run once, in the parent process).", ge=1, le=64)
    request_timeout_seconds: float = _field(60.0, "server", "Longest a request (but an upload) may take before "
                                                            "its response starts (503 beyond).", gt=0)
    upload_timeout_seconds: float = _field(900.0, "server", "Longest an upload request may take (408 for a "
                                                            "stalled upload).", gt=0)
    stale_upload_seconds: float = _field(3600.0, "server", "Upload temp folders older than this are removed at "
                                                           "start-up; those of a process that is gone (a killed "
                                                           "server) at once.", gt=0)
    storage_error_seconds: float = _field(60.0, "server", "After the database or the disk refused a write (full, "
                                                          "I/O error; the request got 507), /readyz answers 503 "
                                                          "this long.", ge=0)
    log_format: Literal["json", "text"] = _field(
        "json", "server", "serve/worker logs on stderr: `json` (one object per line, with request_id, audit_id, "
                          "worker_id) or `text` (the same fields as key=value).")

    # -- limits -------------------------------------------------------------------------------------
    max_upload_bytes: int = _field(512 * 1024 * 1024, "limits", "Largest upload (413 beyond).", ge=1)
    max_rows: int = _field(5_000_000, "limits", "Most rows of a dataset.", ge=1)
    min_rows: int = _field(10, "limits", "Fewest rows of a dataset an audit accepts.", ge=2)
    max_classes: int = _field(1000, "limits", "Most classes of a dataset.", ge=2)
    max_values_per_example: int = _field(3 * 1024 * 1024, "limits",
                                         "Features per row, or pixels x channels per image.", ge=1)
    max_table_columns: int = _field(20_000, "limits", "Columns of a CSV or Parquet table, checked before it is "
                                                      "parsed (parsing takes about 10 KB and 25 us per column).",
                                    ge=1)
    max_array_bytes: int = _field(8 * 1024**3, "limits", "Bytes of one IDX or .npy array, checked against its "
                                                         "header before anything is allocated.", ge=1)
    max_zip_uncompressed_bytes: int = _field(8 * 1024**3, "limits", "Bytes the files of an image or NPZ archive may "
                                                                    "unpack to, together.", ge=1)
    max_zip_members: int = _field(2_000_000, "limits", "Files in an image or NPZ archive.", ge=1)
    max_zip_ratio: int = _field(1000, "limits", "Compression ratio of one archive file over 1 MiB (beyond: a likely "
                                                "zip bomb).", ge=1)
    max_zip_pixels: int = _field(1 << 30, "limits", "Pixels the images of an archive may decode to, together, "
                                                    "checked against every image's header before any is decoded.",
                                 ge=1)
    ingest_slots: int = _field(2, "limits", "Uploads parsed at once per server process; more wait their turn, so "
                                            "the memory uploads take is bounded by this many times the limits.",
                               ge=1)
    max_active_jobs_per_tenant: int = _field(8, "limits", "Queued + running audits per tenant (429 beyond).", ge=1)
    max_storage_bytes_per_tenant: int = _field(20 * 1024 ** 3, "limits", "Artifact bytes per tenant (507 beyond).",
                                               ge=0)

    # -- worker -------------------------------------------------------------------------------------
    workers: int = _field(1, "worker", "In-process audit workers started by `labelaudit serve`.", ge=0)
    device: Literal["auto", "cpu", "cuda"] = _field("auto", "worker", "Training device of audits that ask for "
                                                                      "`auto`.")
    heartbeat_seconds: float = _field(1.0, "worker", "How often a worker stamps its running audit (and reads "
                                                     "its cancel flag).", gt=0)
    stale_after_seconds: float = _field(60.0, "worker", "A running audit without a heartbeat this long is "
                                                        "requeued.", gt=0)
    worker_poll_seconds: float = _field(0.5, "worker", "How long an idle worker waits before polling the queue.",
                                        gt=0)
    max_attempts: int = _field(3, "worker", "Claims of one audit before it is failed instead of requeued.", ge=1)
    cuda_audits: Literal["auto", "on", "off"] = _field(
        "auto", "worker", "Whether `POST /v1/audits` accepts `device: cuda`: `auto` when this host's torch sees a "
                          "CUDA GPU (asked once), `on` (separate GPU workers, a CPU-only API), `off` (422 "
                          "`no_cuda`).")
    executor: Literal["local", "ray"] = _field(
        "local", "worker", "Who trains the cross-validation folds: `local` (one after another in the worker "
                           "process) or `ray` (one Ray task per fold; needs the `ray` extra).")
    concurrent_folds: Literal["auto", "on", "off"] = _field(
        "auto", "worker", "Whether the local executor trains an audit's folds together, as one stacked model on "
                          "one device (the small torch backbones; it fills a GPU one small model leaves idle): "
                          "`auto` on a GPU for `cnn` and `mlp`, `on` wherever the backbone can, `off` one after "
                          "another. The probabilities agree up to floating-point rounding.")
    cpu_threads: int = _field(
        0, "worker", "The host's CPU budget: threads all local training jobs (audits of workers, worker threads "
                     "and CLI runs sharing data_dir) use together, split evenly between those running; a lone "
                     "job gets all of it. 0: every core this process may use.", ge=0)
    cpu_budget_dir: Path | None = _field(
        None, "worker", "Where the shared CPU budget's lease files live; processes that should share the cores "
                        "must see the same folder. Unset: `data_dir/cpu-budget` when data_dir exists (a service's, "
                        "or the CLI run beside one), else a folder of this user in the system's temporary "
                        "directory (CLI runs elsewhere: nothing is written where they run).")
    cpu_budget: Literal["shared", "off"] = _field(
        "shared", "worker", "`shared`: jobs split the budget through lease files in `data_dir/cpu-budget/`; "
                            "`off`: every job uses the whole budget whatever else runs (oversubscribes the cores "
                            "when jobs overlap).")

    # -- auth ---------------------------------------------------------------------------------------
    auth: Literal["on", "off"] = _field(
        "on", "auth", "`on`: /v1 requests need `Authorization: Bearer <key>` (or X-API-Key) and see only their "
                      "tenant's data. `off`: local single-user mode, everything belongs to tenant `local` "
                      "(`make run` sets it; the server logs a warning).")
    metrics_token: str | None = _field(
        None, "auth", "Bearer token that opens /metrics (for the Prometheus scraper). Unset: /metrics takes any "
                      "live API key (with auth on). Set or not, /readyz tells unauthenticated callers only "
                      "ready or not.", min_length=16)

    # -- ray ----------------------------------------------------------------------------------------
    ray_address: str | None = _field(
        None, "ray", "The Ray cluster to use (Ray's own `RAY_ADDRESS`, e.g. `ray://ray-head:10001`); "
                     "unset: a local Ray started on first use.",
        validation_alias=AliasChoices("ray_address", "RAY_ADDRESS"))
    ray_num_cpus: int | None = _field(None, "ray", "CPUs of a locally started Ray (unset: all).", ge=1)
    ray_cpus_per_fold: float = _field(1.0, "ray", "CPUs each fold's Ray task requests.", gt=0)
    ray_gpus_per_fold: float | None = _field(
        None, "ray", "GPUs each fold's Ray task requests when it trains a torch model; fractions (0.25) share a "
                     "GPU between folds. Unset: 1 when the cluster has GPUs, else 0.", ge=0)
    ray_max_retries: int = _field(2, "ray", "Retries of a fold whose Ray task failed or whose worker died (not "
                                            "of bad options or cancels).", ge=0, le=10)
    ray_torch_threads: int = _field(
        0, "ray", "Torch threads in each fold's Ray task. 0: as many as the local executor uses in this process, "
                  "so pred_probs are identical to a local run; set it to ray_cpus_per_fold to avoid "
                  "oversubscribing CPU workers (results then differ from a local run in the last digits).", ge=0)

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, else SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelaudit.sqlite').resolve()}"

    def ingest_limits(self) -> IngestLimits:
        """The limits uploads are read under (:class:`~labelaudit.core.ingest.IngestLimits`)."""
        from labelaudit.core.ingest.limits import IngestLimits  # lazy: importing ingest loads numpy

        return IngestLimits(
            min_rows=self.min_rows, max_rows=self.max_rows, max_classes=self.max_classes,
            max_values_per_example=self.max_values_per_example, max_table_columns=self.max_table_columns,
            max_array_bytes=self.max_array_bytes, max_zip_uncompressed_bytes=self.max_zip_uncompressed_bytes,
            max_zip_members=self.max_zip_members, max_zip_ratio=self.max_zip_ratio,
            max_zip_pixels=self.max_zip_pixels)


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` (``ray_address`` is Ray's own ``RAY_ADDRESS``)."""
    return "RAY_ADDRESS" if field == "ray_address" else f"LABELAUDIT_{field.upper()}"


def get_settings(**overrides) -> Settings:
    """Fresh settings from the environment, with keyword overrides applied on top."""
    return Settings(**overrides)
