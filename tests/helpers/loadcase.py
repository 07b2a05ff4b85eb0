"""Load cases written as in a case file (plain dicts), validated by the pydantic schema."""

from __future__ import annotations

from typing import Any

from bonefem.config.loading import LoadCase


def load_case(**fields: Any) -> LoadCase:
    """``LoadCase`` from keyword fields whose supports and loads are plain dicts.

    The schema parses the dicts at run time; written through ``model_validate`` the call
    type-checks too (``LoadCase(supports=[{...}])`` would need a mypy plugin).
    """
    return LoadCase.model_validate(fields)
