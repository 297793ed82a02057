"""casepol: a declarative access-policy language for case-management systems.

Load a :class:`Policy` (``Policy.from_path`` or ``Policy.from_source``), load its data with
``policy.load_entities``, and ask: ``check`` and ``check_many`` decide, ``explain`` says why,
``who_can``, ``actions``, ``list`` and ``filter`` answer the queries, and ``apply`` applies a
change set and says whose access it changed. Every object is immutable and safe to share
between threads. Errors raise :class:`CasepolError` subclasses carrying their diagnostics.
"""

from ._casepol import Applied, Decision, Entities, Policy, Rule, __version__
from ._errors import (
    CasepolError,
    ChangeSetError,
    Diagnostic,
    EntitiesError,
    PolicyError,
    ReadError,
    RequestError,
)

__all__ = [
    "Applied",
    "CasepolError",
    "ChangeSetError",
    "Decision",
    "Diagnostic",
    "Entities",
    "EntitiesError",
    "Policy",
    "PolicyError",
    "ReadError",
    "RequestError",
    "Rule",
    "__version__",
]
