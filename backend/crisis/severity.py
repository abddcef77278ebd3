"""How serious an alert, or a crisis phrase, is: the one definition.

No Django import, so the pure crisis-language module uses it as the models and the API do.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Ordered from the lowest. An alert stores the ``rank`` (1, 2, 3), so "higher
    severity" is a comparison, and an ``ORDER BY``, in SQL; the API shows the name."""

    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def of_rank(cls, rank: int) -> Severity:
        return _BY_RANK[rank]


_RANK = {severity: rank for rank, severity in enumerate(Severity, start=1)}
_BY_RANK = {rank: severity for severity, rank in _RANK.items()}
# The alert's database choices: the rank is stored, the name is its label.
SEVERITY_CHOICES = [(severity.rank, severity.value) for severity in Severity]
