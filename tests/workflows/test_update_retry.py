"""Which Temporal errors make the client send an update again."""

from __future__ import annotations

from google.protobuf.any_pb2 import Any as AnyDetail
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.errordetails.v1 import NotFoundFailure, WorkflowNotReadyFailure
from temporalio.service import RPCError, RPCStatusCode

from missions.client import _update_aborted


def rpc_error(
    status: RPCStatusCode, *details: WorkflowNotReadyFailure | NotFoundFailure
) -> RPCError:
    packed = []
    for detail in details:
        item = AnyDetail()
        item.Pack(detail)
        packed.append(item)
    raw = GrpcStatus(code=int(status), message="failed", details=packed).SerializeToString()
    return RPCError("failed", status, raw)


def test_aborted_update_is_sent_again() -> None:
    error = rpc_error(RPCStatusCode.FAILED_PRECONDITION, WorkflowNotReadyFailure())
    assert _update_aborted(error)


def test_other_failure_is_not_sent_again() -> None:
    assert not _update_aborted(rpc_error(RPCStatusCode.NOT_FOUND, NotFoundFailure()))


def test_failure_without_details_is_not_sent_again() -> None:
    assert not _update_aborted(rpc_error(RPCStatusCode.UNAVAILABLE))
