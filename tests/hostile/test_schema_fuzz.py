"""Schemathesis over every /v1 operation of the API's own OpenAPI schema, against a real server and database.

The schema is loaded from the running server. Every operation is fuzzed with
positive (schema-valid) data, and with negative (schema-violating) data where any
input can be invalid (not for a bare string id alone), twice: once with
generated path ids (mostly unknown ids) and once with the ids of real records (a
pred_probs dataset with a finished audit, and an image dataset), so queries run
against real rows. Checks: no 5xx (``not_a_server_error``), and every response
conforms to its documented schema (``response_schema_conformance``).

Deletes keep generated ids only: with real ids they would remove the records the
other operations need. Examples per operation and mode: 8, or
``HOSTILE_EXAMPLES`` for a longer hunt.

The cases are driven by hypothesis directly (``APIOperation.as_strategy``)
rather than by ``schemathesis.pytest.from_fixture``, whose lazy loader reads
``Node._nodeid``, which pytest 9 no longer has.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.hostile.corpus import image_members, npy_bytes, pred_probs, zip_bytes
from tests.service_fixtures import wait_for

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def records(fuzz_server) -> dict[str, str]:
    """Real ids to fuzz against: a pred_probs dataset with a done audit, and an image dataset."""
    P, y = pred_probs(60)
    with httpx.Client(base_url=fuzz_server.url, timeout=60) as http:
        ds = http.post("/v1/datasets", files={"file": ("p_pyx.npy", npy_bytes(P)),
                                               "labels_file": ("p_labels.npy", npy_bytes(y))})
        images = http.post("/v1/datasets", files={"file": ("i.zip", zip_bytes(image_members(per_class=8)))})
        assert ds.status_code == images.status_code == 201, (ds.text, images.text)
        audit = http.post("/v1/audits", json={"dataset_id": ds.json()["id"]})
        assert audit.status_code == 202, audit.text
        audit_id = audit.json()["id"]
        wait_for(lambda: http.get(f"/v1/audits/{audit_id}").json()["status"] == "done", timeout=120)
    return {"dataset_id": ds.json()["id"], "image_dataset_id": images.json()["id"], "audit_id": audit_id,
            "other_id": audit_id}


@pytest.fixture(scope="module")
def openapi(fuzz_server) -> dict:
    return httpx.get(fuzz_server.url + "/openapi.json", timeout=30).json()


@pytest.fixture(scope="module")
def operations(fuzz_server):
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path.startswith("/v1/")]


def negatable(operation, openapi: dict) -> bool:
    """Whether any input of ``operation`` can be invalid: a body, or a parameter with more than a bare string type.

    Where none can, negative generation only burns hypothesis' filter budget before giving up (Unsatisfiable).
    """
    spec = openapi["paths"][operation.path][operation.method.lower()]
    bare = {"type": "string"}
    return "requestBody" in spec or any({k: v for k, v in p.get("schema", {}).items() if k != "title"} != bare
                                        for p in spec.get("parameters", []))


def real_ids(operation, records: dict[str, str]) -> dict[str, str] | None:
    """The path ids of real records for ``operation``, or None where it keeps generated ones."""
    names = {p.name for p in operation.path_parameters}
    if not names & {"dataset_id", "audit_id", "other_id"} or operation.method.upper() == "DELETE":
        return None
    ids = {name: records[name] for name in names if name in records}
    if "dataset_id" in names and operation.path.endswith("/image"):
        ids["dataset_id"] = records["image_dataset_id"]
    return ids


def fuzz(operation, mode: GenerationMode, base_url: str, *, path_parameters=None, body_dataset_id=None) -> None:
    """Run ``EXAMPLES`` generated requests of ``operation``; raise on the first failed check."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get("HOSTILE_RANDOM"),
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        if body_dataset_id and isinstance(case.body, dict) and "dataset_id" in case.body:
            case.body["dataset_id"] = body_dataset_id
        response = case.call(base_url=base_url, timeout=60)
        case.validate_response(response, checks=CHECKS)

    run()


def test_every_operation_with_positive_and_negative_data(fuzz_server, openapi, operations, records):
    assert len(operations) >= 20, [op.label for op in operations]
    failures, started = [], time.monotonic()
    for operation in operations:
        ids = real_ids(operation, records)
        body_id = records["dataset_id"] if operation.label == "POST /v1/audits" else None
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable(operation, openapi) else [])
        for mode in modes:
            for path_parameters in (None, ids) if ids else (None,):
                try:
                    fuzz(operation, mode, fuzz_server.url, path_parameters=path_parameters, body_dataset_id=body_id)
                except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup;
                    # every failure is collected, then all are reported together
                    where = "real ids" if path_parameters else "generated ids"
                    failures.append(f"{operation.label} ({mode.value}, {where}): {type(exc).__name__}: "
                                    f"{str(exc)[:1500]}")
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} failures in {elapsed:.0f}s:\n\n" + "\n\n".join(failures) + \
        "\n\nserver log:\n" + fuzz_server.log_tail(3000)
