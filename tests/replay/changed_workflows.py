"""Edits of MissionWorkflow registered under its name, to show what replay catches.

Each class adds one timer before the mission's first commit. `UnpatchedTimer` adds it to
every run, including those that started before the change, so their histories no longer
match. `PatchedTimer` guards it with `workflow.patched`, so old runs take the old branch.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from missions.contracts import MissionInput, MissionSnapshot
    from workflows.mission import MissionWorkflow

POSTING_DELAY = timedelta(seconds=1)


@workflow.defn(name="MissionWorkflow")
class UnpatchedTimer(MissionWorkflow):
    @workflow.run
    async def run(self, data: MissionInput) -> MissionSnapshot:
        await workflow.sleep(POSTING_DELAY)
        return await super().run(data)


@workflow.defn(name="MissionWorkflow")
class PatchedTimer(MissionWorkflow):
    @workflow.run
    async def run(self, data: MissionInput) -> MissionSnapshot:
        if workflow.patched("posting-delay"):
            await workflow.sleep(POSTING_DELAY)
        return await super().run(data)
