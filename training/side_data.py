"""The datasets besides interactions that recipes read: the Items dataset's metadata (``items`` channel)
and the Users dataset's records (``users`` channel). A recipe declares what it reads by implementing
``UsesItemMetadata`` / ``UsesFeatureTokens``; ``configure`` hands each recipe what it declares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from training.feature_tokens import USERS_CHANNEL, UsesFeatureTokens, load_users
from training.item_metadata import ITEMS_CHANNEL, ItemMetadata, UsesItemMetadata, load_item_metadata

if TYPE_CHECKING:
    from training.recipes.base import Recipe


@dataclass(frozen=True)
class SideData:
    items: ItemMetadata | None = None
    users: dict[str, dict[str, str]] | None = None  # user id -> upper-case field -> raw value
    user_kinds: dict[str, str] = field(default_factory=dict)  # field -> categorical | numeric

    def configure(self, recipe: Recipe) -> Recipe:
        if isinstance(recipe, UsesItemMetadata):
            recipe.set_item_metadata(self.items)
        if isinstance(recipe, UsesFeatureTokens):
            recipe.set_user_metadata(self.users, self.user_kinds)
        return recipe


def load_side_data(data_dir: Path) -> SideData:
    """The ``items`` and ``users`` channels under the job's ``<input>/data``, where present."""
    users = load_users(data_dir / USERS_CHANNEL)
    return SideData(
        items=load_item_metadata(data_dir / ITEMS_CHANNEL),
        users=users[0] if users else None,
        user_kinds=users[1] if users else {},
    )
