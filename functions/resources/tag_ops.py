"""TagResource, UntagResource, ListTagsForResource.

Tags live in the resource's document (``tags``, as CreateX received them), so a tag is deleted with its
resource. Tailor also writes one tag itself: ``tailor:trainingProgress`` on a solution version while it
trains (``functions/workflows/progress.py``), because the Personalize API has no field for progress.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import InvalidInputException, ResourceNotFoundException, TooManyTagsException
from functions.stores.resources import ResourceStore

# Personalize's limit: 50 user tags per resource.
MAX_TAGS = 50
# Keys with this prefix are AWS's (and Tailor's progress tag uses its own "tailor:" prefix).
RESERVED_PREFIX = "aws:"


def _tags_of(doc: dict[str, Any]) -> list[dict[str, str]]:
    return list(doc.get("tags") or [])


def set_tag(doc: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    """Set one tag on a resource document (replacing the value of an existing key)."""
    tags = [t for t in _tags_of(doc) if t["tagKey"] != key]
    tags.append({"tagKey": key, "tagValue": value})
    doc["tags"] = tags
    return doc


class TagOperations:
    store: ResourceStore

    def _tagged(self, arn: str) -> dict[str, Any]:
        doc = self.store.find(arn)
        if doc is None:
            raise ResourceNotFoundException(f"Could not find resource: {arn}")
        return doc

    def list_tags_for_resource(self, resourceArn: str) -> dict[str, Any]:
        return {"tags": _tags_of(self._tagged(resourceArn))}

    def tag_resource(self, resourceArn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        self._tagged(resourceArn)
        for tag in tags:
            if tag["tagKey"].lower().startswith(RESERVED_PREFIX):
                raise InvalidInputException(
                    f"Tag key {tag['tagKey']!r} is invalid: keys starting with {RESERVED_PREFIX!r} are "
                    "reserved for AWS."
                )

        def apply(doc: dict[str, Any]) -> dict[str, Any]:
            for tag in tags:
                set_tag(doc, tag["tagKey"], tag["tagValue"])
            if len(doc["tags"]) > MAX_TAGS:
                raise TooManyTagsException(
                    f"Resource {resourceArn} would have {len(doc['tags'])} tags; at most {MAX_TAGS} are "
                    "allowed. Remove some with UntagResource first."
                )
            return doc

        self.store.update(resourceArn, apply)
        return {}

    def untag_resource(self, resourceArn: str, tagKeys: list[str]) -> dict[str, Any]:
        self._tagged(resourceArn)
        drop = set(tagKeys)

        def apply(doc: dict[str, Any]) -> dict[str, Any]:
            doc["tags"] = [t for t in _tags_of(doc) if t["tagKey"] not in drop]
            return doc

        self.store.update(resourceArn, apply)
        return {}
