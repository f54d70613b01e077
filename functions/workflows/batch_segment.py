"""A batch segment job: for every line of a JSON Lines input, the users most likely to interact with it.

Input lines, as Personalize's "Preparing input data for user segments" describes them: ``{"itemId":
"105"}`` for aws-item-affinity, ``{"itemAttributes": "ITEMS.GENRES = \\"Comedy\\" AND ITEMS.PRICE < 10"}``
for aws-item-attribute-affinity, each optionally with ``"filterValues"`` for the job's filter. At most
500 items (Item-Affinity) or 10 queries (Item-Attribute-Affinity) per job, as the recipes' pages state;
a larger input fails the job before anything is written.

For each input file ``<name>`` the job writes ``<name>.out`` under the output path, one line per input
line, in order, in the shapes of "Batch segment job output format examples": ``{"input": {"itemId":
...}, "output": {"recommendedUsers": [...]}, "error": null}`` for aws-item-affinity, and the input line's
own keys at the top level for aws-item-attribute-affinity (``{"itemAttributes": "...", "output": {...},
"error": null}``); ``error`` as in batch inference. A line
that cannot be answered (bad JSON, the wrong key for the recipe, an item the model never saw, an
expression that does not parse or matches no item, a missing filter parameter) gets ``"output": null``
and its ``"error"``; the job still succeeds. A line that is not a JSON object is wrapped in ``"input"``
whatever the recipe. Reading the input and writing the outputs, only once every line is answered, is
``json_lines_job``'s.

An item attribute expression is the WHERE part of an item filter (``functions/filters``): it is parsed as
``INCLUDE ItemID WHERE <expression>``, checked against the Items schema, and evaluated over the dataset
group's current Items dataset; ``=`` on a categorical field matches items that have the value among
their ``|``-separated values. The matching items known to the model make the segment
(``LoadedModel.segment``). The job's filter (a UserID filter) limits the users a segment may contain.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from functions.filters import (
    FilterExpressionError,
    FilterValuesError,
    check_against_schemas,
    field_types,
    item_mask,
    parse_filter,
    user_mask,
)
from functions.filters.expression import field_refs
from functions.protocol.errors import TailorError
from functions.serving.model_artifact import LoadedModel
from functions.serving.recommender import GroupState
from functions.serving.runtime_api import ModelCache
from functions.workflows.json_lines_job import Answer, run_json_lines_job
from functions.workflows.run import WorkflowFailed

ITEM_AFFINITY = "aws-item-affinity"
ITEM_ATTRIBUTE_AFFINITY = "aws-item-attribute-affinity"
MAX_LINES = {ITEM_AFFINITY: 500, ITEM_ATTRIBUTE_AFFINITY: 10}
_WHERE = "INCLUDE ItemID WHERE "
_POSITION = re.compile(r"position (\d+)")


class LineError(ValueError):
    """This line cannot be answered; the message goes into its ``error``."""


def _expression_error(exc: Exception) -> str:
    """A filter parser message with positions counted in the user's expression, not in our wrapper."""
    return _POSITION.sub(lambda m: f"position {max(1, int(m.group(1)) - len(_WHERE))}", str(exc))


class Segmenter:
    """Answers the lines of one job: one model, the dataset group's tables, the job's filter."""

    def __init__(self, model: LoadedModel, group_arn: str, filter_expression: str | None) -> None:
        self.model = model
        self.state = GroupState(group_arn)
        self.filter = self.state.compiled(filter_expression) if filter_expression else None
        self._user_masks: dict[str, np.ndarray] = {}

    def allowed_users(self, values: dict[str, str] | None) -> np.ndarray | None:
        if self.filter is None:
            return None
        key = json.dumps(values or {}, sort_keys=True)
        if key not in self._user_masks:
            table, _ = self.state.users()
            interactions = None
            if "interactions." in self.filter.expression.text.lower():
                by_user = self.state.catalog.interactions().by_user
                interactions = {
                    user: [(item, kind) for item, kind, _ in events] for user, events in by_user.items()
                }
            # Model users without a Users record are checked as users with empty fields.
            table.add_ids(self.model.users)
            try:
                mask = user_mask(self.filter, table, values, interactions)
            except FilterValuesError as exc:
                raise LineError(str(exc)) from exc
            allowed = mask[table.indices(self.model.users)]
            self._user_masks[key] = allowed
        return self._user_masks[key]

    def items_for_attributes(self, expression: Any) -> list[int]:
        if not isinstance(expression, str) or not expression.strip():
            raise LineError('itemAttributes must be an expression such as ITEMS.GENRES = "Comedy".')
        table, view = self.state.items()
        if view is None:
            raise LineError("The dataset group has no Items dataset to match item attributes against.")
        try:
            parsed = parse_filter(_WHERE + expression)
        except FilterExpressionError as exc:
            raise LineError(f"itemAttributes is not a valid expression: {_expression_error(exc)}") from exc
        others = sorted({ref.written for ref in field_refs(parsed) if ref.dataset != "Items"})
        if len(parsed.expressions) != 1 or others:
            raise LineError(
                "itemAttributes is one expression over ITEMS fields (conditions joined with AND or OR)"
                + (
                    f"; it can't use {', '.join(others)}."
                    if others
                    else "; it can't chain expressions with '|'."
                )
            )
        try:
            check_against_schemas(parsed, field_types(view.schema.fields), None, None)
        except FilterExpressionError as exc:
            raise LineError(f"itemAttributes is not a valid expression: {_expression_error(exc)}") from exc
        compiled = self.state.compiled(parsed.text)
        if compiled.parameters:
            raise LineError("itemAttributes can't use $parameters; write the values into the expression.")
        mask = item_mask(compiled, table)
        known = [self.model.item_index[table.ids[row]] for row in np.flatnonzero(mask)
                 if table.ids[row] in self.model.item_index]  # fmt: skip
        if not known:
            raise LineError(
                f"No item of the training data matches {expression!r}; the segment needs items that were "
                "present when the solution version was created."
            )
        return known

    def answer(self, request: dict[str, Any], n: int) -> dict[str, Any]:
        try:
            values = request.get("filterValues")
            if values is not None and not isinstance(values, dict):
                raise LineError("filterValues must be an object of parameter name to values.")
            if self.model.recipe == ITEM_ATTRIBUTE_AFFINITY:
                if "itemAttributes" not in request:
                    raise LineError(f"A {ITEM_ATTRIBUTE_AFFINITY} job needs itemAttributes on every line.")
                items = self.items_for_attributes(request["itemAttributes"])
            else:
                item_id = request.get("itemId")
                if not isinstance(item_id, str) or not item_id:
                    raise LineError(f"A {self.model.recipe} job needs itemId on every line.")
                if item_id not in self.model.item_index:
                    raise LineError(
                        f"Item {item_id} is not in the training data; a segment needs an item that was "
                        "present when the solution version was created."
                    )
                items = [self.model.item_index[item_id]]
            users = self.model.segment(items, n, self.allowed_users(values))
        except (LineError, TailorError) as exc:
            message = exc.message if isinstance(exc, TailorError) else str(exc)
            return self._result(request, None, message)
        return self._result(request, {"recommendedUsers": [user for user, _ in users]}, None)

    def _result(
        self, request: dict[str, Any], output: dict[str, Any] | None, error: str | None
    ) -> dict[str, Any]:
        # Personalize echoes an attribute query's line at the top level but wraps an item line in "input".
        if self.model.recipe == ITEM_ATTRIBUTE_AFFINITY:
            return {**request, "output": output, "error": error}
        return {"input": request, "output": output, "error": error}


def _prepare(
    job: dict[str, Any], version: dict[str, Any], filter_expression: str | None, line_count: int
) -> Answer:
    model = ModelCache._load(version["solutionVersionArn"])
    limit = MAX_LINES.get(model.recipe)
    if limit is not None and line_count > limit:
        what = "queries" if model.recipe == ITEM_ATTRIBUTE_AFFINITY else "items"
        raise WorkflowFailed(
            f"The input has {line_count} lines; a {model.recipe} batch segment job takes at most {limit} "
            f"{what}. Split the input over several jobs."
        )
    segmenter = Segmenter(model, version["datasetGroupArn"], filter_expression)
    n = int(job["numResults"])
    return lambda request: segmenter.answer(request, n)


def run_batch_segment(job_arn: str) -> None:
    run_json_lines_job(job_arn, _prepare)
