"""Where an event came from, for metric attribution reports.

Personalize names the campaign or recommender behind a ``recommendationId`` in reports'
EVENT_ATTRIBUTION_SOURCE column. Tailor does so without storing every id it hands out (which would cost
GetRecommendations a write): the id's first eight hex digits are the CRC-32 of the campaign or
recommender ARN that served it, so the reporting side finds the source among the existing campaigns and
recommenders. The rest of the id is random, in the UUID layout of Personalize's ``RID-`` ids.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable

UNDEFINED = "SOURCE_NAME_UNDEFINED"  # the guide's label for events without a source


def _tag(source_arn: str) -> str:
    return f"{zlib.crc32(source_arn.encode()):08x}"


def recommendation_id(source_arn: str) -> str:
    """A new ``RID-...`` id for recommendations served by ``source_arn``."""
    return f"RID-{_tag(source_arn)}{str(uuid.uuid4())[8:]}"


def source_of(recommendation: str | None, attribution_source: str | None, candidates: Iterable[str]) -> str:
    """The report's source: ``eventAttributionSource`` when given (the guide: it wins over the id), else the
    one candidate ARN whose tag the ``recommendationId`` carries, else SOURCE_NAME_UNDEFINED."""
    if attribution_source:
        return attribution_source
    if recommendation and recommendation.startswith("RID-") and len(recommendation) >= 12:
        tag = recommendation[4:12].lower()
        matches = [arn for arn in candidates if _tag(arn) == tag]
        if len(matches) == 1:
            return matches[0]
    return UNDEFINED
