"""The interview state machine (DESIGN.md, "Domain"). Every status write goes through here.

    scheduled -> initializing -> configuring -> active -> destroying -> destroyed
    invited -> activated -> initializing          (any live status) -> error -> destroying
    invited -> destroyed (expired | revoked)      scheduled -> destroyed (ended before start)
    active -> destroying (submitted: a take-home candidate is done early)

An illegal transition is an error naming both statuses, never a silent overwrite.
"""

from __future__ import annotations

from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus

S = InterviewStatus

TRANSITIONS: dict[InterviewStatus, frozenset[InterviewStatus]] = {
    S.SCHEDULED: frozenset({S.INITIALIZING, S.DESTROYED, S.ERROR}),
    S.INVITED: frozenset({S.ACTIVATED, S.DESTROYED}),
    S.ACTIVATED: frozenset({S.INITIALIZING, S.DESTROYING, S.ERROR}),
    S.INITIALIZING: frozenset({S.CONFIGURING, S.DESTROYING, S.ERROR}),
    S.CONFIGURING: frozenset({S.ACTIVE, S.DESTROYING, S.ERROR}),
    S.ACTIVE: frozenset({S.DESTROYING, S.ERROR}),
    S.ERROR: frozenset({S.DESTROYING}),
    S.DESTROYING: frozenset({S.DESTROYED, S.ERROR}),
    S.DESTROYED: frozenset(),
}

# Where each kind of interview begins.
INITIAL: dict[InterviewKind, frozenset[InterviewStatus]] = {
    InterviewKind.LIVE: frozenset({S.SCHEDULED}),
    InterviewKind.TAKE_HOME: frozenset({S.INVITED}),
}

# Statuses in which a workspace may exist and so must be destroyed to end the interview.
HAS_WORKSPACE = frozenset({S.INITIALIZING, S.CONFIGURING, S.ACTIVE, S.ERROR, S.DESTROYING})

# Ending without a workspace (straight to destroyed) is only for these reasons.
ENDED_BEFORE_START: dict[InterviewStatus, frozenset[EndReason]] = {
    S.INVITED: frozenset({EndReason.EXPIRED, EndReason.REVOKED}),
    S.SCHEDULED: frozenset({EndReason.ENDED_BY_INTERVIEWER}),
}

# A submission ends a running take-home: from active (or error, when a destroy is retried).
SUBMITTED_FROM = frozenset({S.ACTIVE, S.ERROR})


class IllegalTransition(ValueError):
    """A status change the state machine does not allow; the message names both ends."""

    def __init__(self, current: InterviewStatus, target: InterviewStatus, why: str = "") -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (final)"
        detail = f": {why}" if why else ""
        super().__init__(
            f"an interview cannot go from {current.value} to {target.value}{detail} "
            f"(from {current.value} it can go to {allowed})"
        )
        self.current = current
        self.target = target


def is_final(status: InterviewStatus) -> bool:
    return not TRANSITIONS[status]


def can_transition(current: InterviewStatus, target: InterviewStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(
    current: InterviewStatus, target: InterviewStatus, end_reason: EndReason | None = None
) -> None:
    """Raise IllegalTransition unless current -> target is allowed (with this end reason)."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    submitted = end_reason is EndReason.SUBMITTED and target is S.DESTROYING
    if submitted and current not in SUBMITTED_FROM:
        raise IllegalTransition(current, target, "only a running test can be submitted")
    if target is S.DESTROYED:
        if end_reason is None:
            raise IllegalTransition(current, target, "ending an interview needs an end reason")
        allowed = ENDED_BEFORE_START.get(current)
        if allowed is not None and end_reason not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise IllegalTransition(
                current, target, f"without a workspace it can only end as {names}"
            )


def check_submit(kind: InterviewKind, current: InterviewStatus) -> None:
    """Raise IllegalTransition unless a candidate may submit now: a take-home, while active."""
    if kind is not InterviewKind.TAKE_HOME:
        raise IllegalTransition(current, S.DESTROYING, "only a take-home test can be submitted")
    if current is not S.ACTIVE:
        raise IllegalTransition(current, S.DESTROYING, "only a running test can be submitted")


def check_initial(kind: InterviewKind, status: InterviewStatus) -> None:
    if status not in INITIAL[kind]:
        starts = ", ".join(sorted(s.value for s in INITIAL[kind]))
        raise ValueError(f"a {kind.value} interview starts as {starts}, not {status.value}")


def ending_status(current: InterviewStatus) -> InterviewStatus:
    """Where "end this interview now" leads: tear the workspace down, or close it directly."""
    if current in HAS_WORKSPACE or current is S.ACTIVATED:
        return S.DESTROYING
    if current in ENDED_BEFORE_START:
        return S.DESTROYED
    raise IllegalTransition(current, S.DESTROYED, "it has already ended")
