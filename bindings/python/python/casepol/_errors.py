"""casepol's exceptions and diagnostics: every error carries its diagnostics, each with a
stable code where it has one, the message, where (file, line, column) and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence


@dataclass(frozen=True)
class Diagnostic:
    """One finding: ``code`` (``"CP0101"`` for a policy, the request error's kind such as
    ``"unknown_principal"`` for a request, ``None`` for entities and change sets),
    ``severity`` (``"error"`` or ``"warning"``), ``message``, the ``file``, ``line`` and
    ``column`` it points at (one-based, when known), ``help`` on how to fix it, and for
    entities the ``entity`` id and ``field``."""

    code: Optional[str]
    severity: str
    message: str
    file: Optional[str] = None
    line: Optional[int] = None
    column: Optional[int] = None
    help: Optional[str] = None
    entity: Optional[str] = None
    field: Optional[str] = None

    def __str__(self) -> str:
        where = ":".join(str(x) for x in (self.file, self.line, self.column) if x is not None)
        head = f"{where}: " if where else ""
        code = f"[{self.code}] " if self.code else ""
        text = f"{head}{self.severity}: {code}{self.message}"
        if self.help:
            text += f"\n  help: {self.help}"
        return text


class CasepolError(Exception):
    """The base of casepol's errors: ``message`` (also ``str(error)``) and ``diagnostics``."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.message: str = message
        self.diagnostics: List[Diagnostic] = list(diagnostics)


class PolicyError(CasepolError):
    """A policy that does not check: every diagnostic, with its code (docs/errors.md)."""


class EntitiesError(CasepolError):
    """Entities that do not load: every problem, with its line and column in the JSON."""


class ReadError(CasepolError):
    """A policy or entities file that could not be read, or is over its size limit."""


class RequestError(CasepolError):
    """A request or query naming something the policy or entities do not have: it cannot be
    decided, which is never an allow. ``kind`` says which mistake (``"unknown_principal"``,
    ``"unknown_action"``, ``"unknown_resource"``, ``"unknown_module"``, …)."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = (), kind: str = "") -> None:
        super().__init__(message, diagnostics)
        self.kind: str = kind


class ChangeSetError(CasepolError):
    """A change set that was refused, with every problem; nothing of it was applied."""
