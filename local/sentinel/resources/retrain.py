"""Emulator creator for the retraining state machine.

The ASL file named by ``DefinitionUri`` is created on moto's Step Functions with its
``DefinitionSubstitutions`` resolved by the Template (function ARNs, table, topic, role, names), so
the machine that runs locally is the committed file, byte for byte apart from the substitutions.
"""

from __future__ import annotations

import json
from typing import Any

from sentinel.emulator import ACCOUNT, LocalStack, creates, local_name
from sentinel.stepfunctions import definition
from sentinel.template import PhysicalResource


@creates("AWS::Serverless::StateMachine")
def _state_machine(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    name = local_name(logical_id)
    arn = stack.client("stepfunctions").create_state_machine(
        name=name,
        definition=json.dumps(definition(stack.template(), logical_id)),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-role",
        type=str(props.get("Type", "STANDARD")),
    )["stateMachineArn"]
    return PhysicalResource(arn, {"Name": name, "Arn": arn})
