"""The one shape of a refused input: a `ValueError` whose `field` names what is wrong.

Broker, portfolio maths, portfolios and the ledger each raise their own subclass, so callers
can catch narrowly, while the CLI and the API report any of them the same way (field + message).
"""

from __future__ import annotations


class FieldValueError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
