"""The LUS state of one hospital stay, derived from its notices (DOMAIN.md).

inskriven → planering → utskrivningsklar ⇄ (återkallad → planering) → hemgångsklar →
utskriven, and makulerad from any state. The state is never set by hand: it follows from
the stay's notices in the order they were sent (a retracted notice no longer counts), the
regional hemgångsklar checklist and the Encounter's own status (an ADT discharge or a
stay entered in error). Folding the notices again after any change keeps the state and
the notices consistent; a notice that would make an illegal step is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fhir_server.transitions import codes as c

ACTIVE = frozenset({c.PLANERING, c.STATE_UTSKRIVNINGSKLAR, c.ATERKALLAD, c.HEMGANGSKLAR})
BEFORE_DISCHARGE = frozenset({c.INSKRIVEN}) | ACTIVE
ANY_LIVE = BEFORE_DISCHARGE | {c.UTSKRIVEN}


def _stay(states: Iterable[str]) -> dict[str, str]:
    return {state: state for state in states}


# notice type → {state before: state after}; a state missing is an illegal step
TRANSITIONS: Mapping[str, Mapping[str, str]] = {
    c.INSKRIVNINGSMEDDELANDE: {**_stay(ACTIVE), c.INSKRIVEN: c.PLANERING},
    c.BERAKNAD_UTSKRIVNING_ANDRAD: _stay(ACTIVE),
    c.PLANERINGSUNDERLAG: _stay(ACTIVE),
    c.PLANERING_PABORJAD: _stay(ACTIVE),
    c.FAST_VARDKONTAKT_UTSEDD: _stay(ACTIVE),
    c.SIP_KALLELSE: _stay(ACTIVE),
    c.UTSKRIVNINGSKLAR: {
        c.PLANERING: c.STATE_UTSKRIVNINGSKLAR,
        c.ATERKALLAD: c.STATE_UTSKRIVNINGSKLAR,
    },
    c.UTSKRIVNINGSKLAR_ATERKALLAD: {
        c.STATE_UTSKRIVNINGSKLAR: c.ATERKALLAD,
        c.HEMGANGSKLAR: c.ATERKALLAD,
    },
    c.UTSKRIVNINGSMEDDELANDE: {**{s: c.UTSKRIVEN for s in ACTIVE}, c.UTSKRIVEN: c.UTSKRIVEN},
    c.MEDDELANDE: _stay(ANY_LIVE),
    c.KVITTENS: _stay(ANY_LIVE),
}

WHAT_IS_NEEDED = {
    c.INSKRIVNINGSMEDDELANDE: "a stay that is not closed",
    c.UTSKRIVNINGSKLAR: "an inskrivningsmeddelande first (state planering or aterkallad)",
    c.UTSKRIVNINGSKLAR_ATERKALLAD: "a stay that is utskrivningsklar",
    c.UTSKRIVNINGSMEDDELANDE: "an inskrivningsmeddelande first",
}


@dataclass(frozen=True)
class Notice:
    """One notice of a stay as the state machine sees it."""

    reference: str  # Communication/id
    code: str  # lus-notice-type
    sent: str  # instant, ISO 8601 with offset
    stored: str = ""  # meta.lastUpdated: the order of notices sent in the same second


@dataclass(frozen=True)
class Step:
    notice: Notice
    before: str
    after: str | None  # None: illegal


class IllegalStep(Exception):
    def __init__(self, step: Step) -> None:
        self.step = step
        needed = WHAT_IS_NEEDED.get(step.notice.code, "the stay in another state")
        super().__init__(
            f"A notice '{step.notice.code}' ({step.notice.reference}, sent {step.notice.sent})"
            f" cannot follow the stay's state '{step.before}': it needs {needed}"
        )


def next_state(state: str, code: str) -> str | None:
    return TRANSITIONS.get(code, {}).get(state)


def sent_order(notices: Iterable[Notice]) -> list[Notice]:
    from fhir_server.transitions.clock import instant  # local: clock imports codes only

    return sorted(notices, key=lambda n: (instant(n.sent), n.stored, n.reference))


def fold(notices: Iterable[Notice]) -> tuple[str, list[Step]]:
    """The state after the notices in sent order, with every step; IllegalStep at the first
    notice that cannot follow its predecessor."""
    state = c.INSKRIVEN
    steps: list[Step] = []
    for notice in sent_order(notices):
        after = next_state(state, notice.code)
        step = Step(notice, state, after)
        if after is None:
            raise IllegalStep(step)
        steps.append(step)
        state = after
    return state, steps


def stay_state(
    notices: Iterable[Notice], encounter_status: str | None, checklist_complete: bool
) -> str:
    """The state of a stay: its notices folded, then the hemgångsklar checklist and the
    Encounter's status (entered-in-error → makulerad; finished → utskriven)."""
    state, _ = fold(notices)
    if encounter_status == "entered-in-error":
        return c.MAKULERAD
    if encounter_status == "finished":
        return c.UTSKRIVEN
    if state == c.STATE_UTSKRIVNINGSKLAR and checklist_complete:
        return c.HEMGANGSKLAR
    return state
