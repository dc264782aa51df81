"""The SearchParameters of the official R4 core package, read straight from the package.

Independent of the server's definitions loader: the oracle reads the same official file
(`core/hl7.fhir.r4.core-4.0.1.tgz` of the shared corpora) itself.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# resources that are not DomainResources (DomainResource parameters do not apply)
NOT_DOMAIN_RESOURCES = frozenset({"Bundle", "Binary", "Parameters"})


@dataclass(frozen=True)
class Param:
    code: str
    type: str  # string | token | reference | date | number | quantity | uri | ...
    expression: str | None
    targets: tuple[str, ...]
    # a composite's components: (type of the component's definition, expression)
    components: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Registry:
    resource_types: frozenset[str]
    params: dict[str, dict[str, Param]]  # resource type → code → parameter

    def param(self, resource_type: str, code: str) -> Param | None:
        return self.params.get(resource_type, {}).get(code)


@cache
def load_registry(archive: Path) -> Registry:
    resource_types: set[str] = set()
    definitions: list[dict] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name
            if not name.endswith(".json"):
                continue
            if name.startswith("package/StructureDefinition-"):
                handle = tar.extractfile(member)
                assert handle is not None
                sd = json.load(handle)
                if (
                    sd.get("kind") == "resource"
                    and not sd.get("abstract")
                    and sd.get("derivation") == "specialization"
                ):
                    resource_types.add(sd["type"])
            elif name.startswith("package/SearchParameter-"):
                handle = tar.extractfile(member)
                assert handle is not None
                definitions.append(json.load(handle))
    params: dict[str, dict[str, Param]] = {t: {} for t in resource_types}
    types_by_url = {sp["url"]: sp["type"] for sp in definitions}
    for sp in definitions:
        if sp["id"].startswith("example"):
            continue  # examples of writing a SearchParameter (one redefines Condition.subject)
        bases = sp.get("base") or []
        components = tuple(
            (types_by_url.get(c["definition"], "?"), c["expression"])
            for c in sp.get("component") or []
        )
        param = Param(
            sp["code"],
            sp["type"],
            sp.get("expression"),
            tuple(sp.get("target") or ()),
            components,
        )
        for base in bases:
            if base == "Resource":
                applies = resource_types
            elif base == "DomainResource":
                applies = resource_types - NOT_DOMAIN_RESOURCES
            else:
                applies = {base} & resource_types
            for resource_type in applies:
                known = params[resource_type].get(param.code)
                # `_id` is defined twice; keep the definition that has an expression
                if known is None or (known.expression is None and param.expression):
                    params[resource_type][param.code] = param
    return Registry(frozenset(resource_types), params)
