"""The executor: runs resource agents (OCF, LSB) for one node and records their results."""

from defib.executor.env import ExecutorConfig
from defib.executor.metadata import AgentMetadata, MetadataCache, parse_metadata
from defib.executor.record import forget_op, forget_resource, record_op, record_pending
from defib.executor.recurring import RecurringScheduler
from defib.executor.runner import AgentExecutor, LocalExecutor, lsb_to_ocf
from defib.executor.types import ExecStatus, OcfRc, Operation, OpResult, ResourceInfo

__all__ = [
    "AgentExecutor", "AgentMetadata", "ExecStatus", "ExecutorConfig", "LocalExecutor",
    "MetadataCache", "OcfRc", "OpResult", "Operation", "RecurringScheduler", "ResourceInfo",
    "forget_op", "forget_resource", "lsb_to_ocf", "parse_metadata", "record_op",
    "record_pending",
]
