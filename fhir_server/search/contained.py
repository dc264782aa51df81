"""_contained and _containedType (search.html#contained): which resources a search
matches, and what it returns for the contained ones.

- `_contained=false` (the default): resources as themselves, never contained ones;
- `true`: only contained resources (`Resource.contained`) of the searched type, matched by
  every search parameter of that type as if they were resources;
- `both`: either.

For matched contained resources, `_containedType=container` (the default) returns their
containers, each once; `_containedType=contained` the contained resources themselves,
each in an entry whose fullUrl is its container's with `#` and its local id. A contained
resource has no identity of its own: it is found through its container's current version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fhir_server.outcome import bad_request
from fhir_server.search.results import SortKey

Contained = Literal["false", "true", "both"]
ContainedType = Literal["container", "contained"]

CONTAINED = "_contained"
CONTAINED_TYPE = "_containedType"
_CONTAINED_VALUES: dict[str, Contained] = {"false": "false", "true": "true", "both": "both"}
_TYPE_VALUES: dict[str, ContainedType] = {"container": "container", "contained": "contained"}
# what a page of containers can be ordered by: the containers' own values (a contained
# type's parameters say nothing of a container of another type)
CONTAINER_SORT = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True, slots=True)
class ContainedScope:
    contained: Contained = "false"
    returns: ContainedType = "container"

    @property
    def active(self) -> bool:
        """Whether contained resources are searched at all."""
        return self.contained != "false"


TOP_LEVEL = ContainedScope()


def check_parameter(name: str, value: str) -> None:
    """One `_contained` or `_containedType` parameter as given: a 400 naming it unless its
    name (no modifier) and value are ones the specification defines."""
    allowed = tuple(_CONTAINED_VALUES if name == CONTAINED else _TYPE_VALUES)
    if name not in (CONTAINED, CONTAINED_TYPE):
        raise bad_request(f"'{name}' takes no modifier", name)
    if value not in allowed:
        raise bad_request(
            f"'{name}={value}' is not valid: {name} is one of {', '.join(allowed)}", name
        )


def contained_scope(pairs: Sequence[tuple[str, str]]) -> ContainedScope:
    """The scope of the `_contained` / `_containedType` parameters given (each checked by
    check_parameter); a 400 when one is repeated with another value, or when
    _containedType comes without _contained=true|both."""
    contained: Contained = "false"
    returns: ContainedType = "container"
    seen: dict[str, str] = {}
    for name, value in pairs:
        check_parameter(name, value)
        if seen.setdefault(name, value) != value:
            raise bad_request(f"{name} is given twice, with different values", name)
        if name == CONTAINED:
            contained = _CONTAINED_VALUES[value]
        else:
            returns = _TYPE_VALUES[value]
    if CONTAINED_TYPE in seen and contained == "false":
        raise bad_request(
            "_containedType applies only with _contained=true or _contained=both",
            CONTAINED_TYPE,
        )
    return ContainedScope(contained, returns)


def check_sort(scope: ContainedScope, sort: Sequence[SortKey]) -> None:
    """A page of containers sorts only by the containers' _id and _lastUpdated."""
    if not scope.active or scope.returns != "container":
        return
    for key in sort:
        if key.param not in CONTAINER_SORT:
            raise bad_request(
                f"_sort={key.param}: with _containedType=container the containers are"
                " sorted by _id or _lastUpdated only",
                "_sort",
            )
