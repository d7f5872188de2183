"""/v1/usage: what the caller's tenant holds and the limits it runs under."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from labelaudit.api.deps import SessionDep, SettingsDep, TenantDep
from labelaudit.services.executors import cpu_status
from labelaudit.store import queries

router = APIRouter(prefix="/v1/usage", tags=["usage"])


class Limits(BaseModel):
    """Limits in force (settings of the server)."""

    max_active_jobs: int = Field(description="queued + running audits per tenant; 429 beyond")
    max_storage_bytes: int = Field(description="artifact bytes per tenant; 507 beyond")
    max_upload_bytes: int = Field(description="one upload; 413 beyond")
    max_rows: int
    max_classes: int
    max_values_per_example: int = Field(description="features per row, or pixels x channels per image")


class CpuOut(BaseModel):
    """How this server's host trains audits: worker concurrency and the CPU budget they share."""

    executor: str = Field(description="`local` or `ray` (LABELAUDIT_EXECUTOR)")
    workers: int = Field(description="audit worker threads of this server (LABELAUDIT_WORKERS)")
    cpu_budget: str = Field(description="`shared`: running jobs split the budget; `off`: each uses all of it")
    threads: int = Field(description="the host's budget: threads all local training jobs use together")
    cores: int = Field(description="cores this server process may use")
    shared: bool = Field(description="whether jobs sharing the data directory split the budget")
    running: int = Field(description="training jobs holding a share of the budget now (all processes)")


class UsageOut(BaseModel):
    """A tenant's holdings against its quotas."""

    tenant: str
    datasets: int
    audits: int
    active_jobs: int = Field(description="queued + running audits")
    stored_bytes: int = Field(description="bytes of the tenant's dataset and pred_probs artifacts")
    limits: Limits
    cpu: CpuOut



@router.get("", response_model=UsageOut, summary="The caller's usage and limits")
def get_usage(session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> UsageOut:
    """Datasets, audits, active jobs and stored bytes of the caller's tenant, beside the limits they count against."""
    datasets, audits = queries.count_of_tenant(session, tenant=tenant)
    return UsageOut(tenant=tenant, datasets=datasets, audits=audits,
                    active_jobs=queries.active_audits_of_tenant(session, tenant=tenant),
                    stored_bytes=queries.stored_bytes_of_tenant(session, tenant=tenant),
                    limits=Limits(max_active_jobs=settings.max_active_jobs_per_tenant,
                                  max_storage_bytes=settings.max_storage_bytes_per_tenant,
                                  max_upload_bytes=settings.max_upload_bytes, max_rows=settings.max_rows,
                                  max_classes=settings.max_classes,
                                  max_values_per_example=settings.max_values_per_example),
                    cpu=CpuOut(**cpu_status(settings)))
