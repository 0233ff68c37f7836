"""A griffe extension: Sphinx cross-reference roles in docstrings shown as code.

The docstrings use Sphinx roles (``:class:`~peergrid.ledger.chain.base.Chain```) so they read
well in an editor; the documentation site renders Markdown, where the role would show as is.
``~`` keeps only the last name, as in Sphinx.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
LITERAL = re.compile(r"``([^`]+)``")


def _markdown(text: str) -> str:
    def role(match: re.Match[str]) -> str:
        short, target = match.groups()
        return f"`{target.rsplit('.', 1)[-1] if short else target}`"

    return LITERAL.sub(r"`\1`", ROLE.sub(role, text))


class SphinxRolesAsCode(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **_: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)
