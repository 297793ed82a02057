"""Type stubs of casepol's extension module (src/lib.rs)."""

import os
from ._errors import Diagnostic, RequestError
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Tuple, Union, overload

__version__: str

Request = Union[Mapping[str, Any], Tuple[str, str], Tuple[str, str, Optional[str]], Tuple[str, str, Optional[str], Optional[str]]]
Context = Mapping[str, Union[bool, int, str, List[str]]]

class Entities:
    """One version of the entities, loaded for one policy. Immutable."""

    @property
    def version(self) -> int: ...

class Rule:
    """A rule that determined a decision, located in the policy's source."""

    @property
    def kind(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def cell(self) -> Optional[Tuple[str, str, str]]: ...
    @property
    def text(self) -> str: ...

class Decision:
    """The answer to one request; true in a boolean context when allowed."""

    @property
    def allowed(self) -> bool: ...
    @property
    def layer(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def determining(self) -> List[Rule]: ...
    @property
    def error(self) -> Optional[RequestError]: ...
    @property
    def request(self) -> Dict[str, Any]: ...
    def __bool__(self) -> bool: ...

class Applied:
    """A change set applied: the next entities, its version, and the access it changed."""

    @property
    def entities(self) -> Entities: ...
    @property
    def version(self) -> int: ...
    @property
    def events(self) -> List[Dict[str, Any]]: ...
    @property
    def groups(self) -> List[Dict[str, Any]]: ...

class Policy:
    """A checked and compiled policy. Immutable; share it across threads."""

    @staticmethod
    def from_path(path: Union[str, "os.PathLike[str]"]) -> "Policy": ...
    @staticmethod
    def from_source(source: str, name: str = "policy.casepol") -> "Policy": ...
    @property
    def warnings(self) -> List[Diagnostic]: ...
    def load_entities(self, data: Union[str, bytes, "os.PathLike[str]"]) -> Entities: ...
    def check(
        self,
        entities: Entities,
        principal: str,
        action: str,
        resource: Optional[str] = None,
        *,
        module: Optional[str] = None,
        target: Optional[str] = None,
        context: Optional[Context] = None,
    ) -> Decision: ...
    def check_many(self, entities: Entities, requests: Iterable[Request]) -> List[Decision]: ...
    @overload
    def explain(
        self,
        entities: Entities,
        principal: str,
        action: str,
        resource: Optional[str] = None,
        *,
        module: Optional[str] = None,
        target: Optional[str] = None,
        context: Optional[Context] = None,
        format: Literal["text"] = "text",
    ) -> str: ...
    @overload
    def explain(
        self,
        entities: Entities,
        principal: str,
        action: str,
        resource: Optional[str] = None,
        *,
        module: Optional[str] = None,
        target: Optional[str] = None,
        context: Optional[Context] = None,
        format: Literal["dict"],
    ) -> Dict[str, Any]: ...
    def who_can(
        self,
        entities: Entities,
        action: str,
        resource: str,
        *,
        module: Optional[str] = None,
        context: Optional[Context] = None,
    ) -> Dict[str, Any]: ...
    def actions(
        self,
        entities: Entities,
        principal: str,
        resource: str,
        *,
        module: Optional[str] = None,
        context: Optional[Context] = None,
    ) -> Dict[str, Any]: ...
    def list(
        self,
        entities: Entities,
        principal: str,
        action: str,
        *,
        kind: Optional[str] = None,
        module: Optional[str] = None,
        context: Optional[Context] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
    ) -> Dict[str, Any]: ...
    def filter(
        self,
        entities: Entities,
        principal: str,
        action: str,
        dialect: Literal["postgres", "sqlite"] = "postgres",
        *,
        module: Optional[str] = None,
        context: Optional[Context] = None,
    ) -> Dict[str, Any]: ...
    def apply(self, entities: Entities, changes: Union[str, bytes, Mapping[str, Any]]) -> Applied: ...

