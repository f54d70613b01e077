"""What every control-plane mixin (``*_ops.py``) may use of ``ControlPlane``, declared once.

``ControlPlane`` defines these itself; the declarations here give the mixins their types and make a
mixin used without ``ControlPlane`` fail loudly.
"""

from __future__ import annotations

from typing import Any

from functions.stores.resources import ResourceStore


class Operations:
    store: ResourceStore

    def _arn(self, resource: str) -> str:
        raise NotImplementedError

    def _get(self, arn: str, resource_type: str) -> dict[str, Any]:
        raise NotImplementedError

    def _list_page(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def _new_doc(**fields: Any) -> dict[str, Any]:
        raise NotImplementedError
