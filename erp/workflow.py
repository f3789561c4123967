"""The document workflow every document type shares (orders, purchase orders, after-sales tickets, ...).

This module owns, for any document with a status and a timeline (an event model with ``kind, code,
message, actor, actor_label, from_status, to_status, data`` and a FK to the document):

- the allowed actions and the reason an action is refused (translated refusal text), from a table of
  ``Action`` rules per document type; a wrong-state action raises ``erp.api.exceptions.Conflict``
  (409) with that reason (``check``);
- the status change (``set_status``): optional transition table, timestamps stamped on the document
  (``Stamp``), the timeline entry with the actor (a user, or None for the system);
- the timeline entry itself (``event`` builds it unsaved for bulk inserts, ``log`` saves it), with the
  actor and its label ("system" when there is no authenticated user), texts cut to the field sizes;
- the row lock (``lock`` / ``lock_many``: select_for_update by pk in the tenant-scoped manager, so
  another tenant's document, or none, is a 404);
- ``why_required(why, field)``: the reason an operator must give (400 "Say why." otherwise).

It does not own what an action does (stock, money, events to other apps): the app's services do that
and call the workflow for the checks, the status and the timeline. Configure one ``DocumentWorkflow``
per document type in the app's services, e.g.::

    WORKFLOW = DocumentWorkflow(
        model=PurchaseOrder, event_model=PurchaseOrderEvent, event_fk="purchase_order",
        status_kind=EventKind.STATUS, not_found="No such purchase order.",
        refusal=gettext_lazy("Purchase order %(no)s is %(status)s: cannot %(action)s it."),
        actions={"approve": Action({S.DRAFT}, gettext_lazy("approve")), ...},
        stamps=[Stamp("approved_at", {S.APPROVED}), ...])

A rule (``Action.guards`` run before the state check, ``Action.checks`` after it) takes the document
and returns a refusal text, "" (no objection) or ``ALLOW`` (allowed now: skip the remaining rules
and the state check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.base import ModelState
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.api.exceptions import Conflict

SYSTEM = "system"
ALLOW = object()  # a rule's answer: the action is allowed now, whatever the state table says

Rule = Callable[[Any], Any]


# --- actor ----------------------------------------------------------------------------------------
def actor_user(actor):
    """The user to store on a row (None for the system, an anonymous user or an unsaved one)."""
    if actor is None or not getattr(actor, "pk", None) or not getattr(actor, "is_authenticated", True):
        return None
    return actor


def actor_label(actor) -> str:
    """Who did it, as the timeline shows it: the username, or "system"."""
    if actor is None or not getattr(actor, "is_authenticated", True):
        return SYSTEM
    get_username = getattr(actor, "get_username", None)
    label = get_username() if callable(get_username) else str(actor)
    return (label or SYSTEM)[:150]


def why_required(why, field: str = "why") -> str:
    """The operator's reason, stripped; missing or blank is a 400 on ``field``."""
    why = (why if isinstance(why, str) else str(why or "")).strip()
    if not why:
        raise ValidationError({field: [_("Say why.")]})
    return why


# --- configuration --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """An action on a document: the statuses that allow it (None: the rules decide alone), the verb for
    the refusal ("cannot <label> it"), rules run before the state check and rules run after it."""

    states: frozenset | None
    label: Any = ""
    guards: tuple[Rule, ...] = ()
    checks: tuple[Rule, ...] = ()

    def __post_init__(self):
        if self.states is not None and not isinstance(self.states, frozenset):
            object.__setattr__(self, "states", frozenset(self.states))
        object.__setattr__(self, "guards", tuple(self.guards))
        object.__setattr__(self, "checks", tuple(self.checks))


@dataclass(frozen=True)
class Stamp:
    """A timestamp field set when the document enters one of ``on``; ``keep_first`` keeps an earlier one."""

    field: str
    on: frozenset
    keep_first: bool = False

    def __post_init__(self):
        if not isinstance(self.on, frozenset):
            object.__setattr__(self, "on", frozenset({self.on} if isinstance(self.on, str) else self.on))


class DocumentWorkflow:
    """States, actions, status changes, timeline and locks of one document type."""

    def __init__(self, *, model, event_model, event_fk: str, actions: Mapping[str, Action],
                 status_kind: str = "status", status_field: str = "status", refusal=None,
                 number: Callable[[Any], Any] = attrgetter("number"), not_found: str | None = None,
                 transitions: Mapping[str, Iterable[str]] | None = None, transition_refusal=None,
                 stamps: Iterable[Stamp] = (), after_status: Callable[[Any, str, str], None] | None = None,
                 skip_unchanged: bool = False):
        self.model = model
        self.event_model = event_model
        self.event_fk = event_fk
        self.actions: dict[str, Action] = dict(actions)
        self.status_kind = status_kind
        self.status_field = status_field
        self.refusal_text = refusal or gettext_lazy("%(document)s %(no)s is %(status)s: cannot %(action)s it.")
        self.number = number
        self.not_found = not_found or f"No such {model._meta.verbose_name}."
        self.transitions = ({k: frozenset(v) for k, v in transitions.items()} if transitions is not None else None)
        self.transition_refusal = transition_refusal or gettext_lazy(
            "%(document)s %(no)s cannot go from %(from_label)s to %(to_label)s.")
        self.stamps = tuple(stamps)
        self.after_status = after_status
        self.skip_unchanged = skip_unchanged

    # --- actions ----------------------------------------------------------------------------------
    def label(self, action: str):
        """The action's verb ("approve"), translated when shown; the action name if it has none."""
        found = self.actions.get(action)
        return found.label if found is not None and found.label else action

    def status_display(self, doc) -> str:
        return str(getattr(doc, f"get_{self.status_field}_display")())

    def refusal(self, doc, action: str) -> str:
        """Why ``action`` is not allowed on ``doc`` now ("" when it is)."""
        spec = self.actions.get(action)
        if spec is None:
            return _("Unknown action.")
        for rule in spec.guards:
            answer = rule(doc)
            if answer is ALLOW:
                return ""
            if answer:
                return str(answer)
        status = getattr(doc, self.status_field)
        if spec.states is not None and status not in spec.states:
            return str(self.refusal_text) % {
                "document": capfirst(str(self.model._meta.verbose_name)), "no": self.number(doc),
                "status": self.status_display(doc), "action": spec.label or action,
                "allowed": ", ".join(sorted(str(s) for s in spec.states))}
        for rule in spec.checks:
            answer = rule(doc)
            if answer is ALLOW:
                return ""
            if answer:
                return str(answer)
        return ""

    def allowed_actions(self, doc) -> list[str]:
        """The actions allowed on ``doc`` now, in the order they were declared."""
        return [a for a in self.actions if not self.refusal(doc, a)]

    def check(self, doc, action: str) -> None:
        """Raise Conflict (409) with the refusal when ``action`` is not allowed on ``doc`` now."""
        refusal = self.refusal(doc, action)
        if refusal:
            raise Conflict(refusal)

    # --- timeline ---------------------------------------------------------------------------------
    @cached_property
    def _event_fields(self) -> tuple:
        return tuple(self.event_model._meta.concrete_fields)

    @cached_property
    def _event_fk_attname(self) -> str:
        return self.event_model._meta.get_field(self.event_fk).attname

    @cached_property
    def _limits(self) -> dict[str, int | None]:
        meta = self.event_model._meta
        return {name: meta.get_field(name).max_length for name in ("code", "message", "actor_label")}

    def event(self, doc, kind: str, code: str, message="", *, actor=None, from_status: str = "", to_status: str = "",
              data: dict | None = None):
        """The timeline entry, unsaved (``save()`` it or bulk-create many): the same instance the
        model's constructor would build, without its per-field keyword handling (the hot path)."""
        limits = self._limits
        user = actor_user(actor)
        given = {
            "tenant_id": doc.tenant_id, self._event_fk_attname: doc.pk, "kind": kind,
            "code": (code or "")[:limits["code"]], "message": str(message or "")[:limits["message"]],
            "actor_id": user.pk if user is not None else None, "actor_label": actor_label(actor)[:limits["actor_label"]],
            "from_status": from_status or "", "to_status": to_status or "", "data": data or {},
        }
        ev = self.event_model.__new__(self.event_model)
        ev.__dict__.update({f.attname: given[f.attname] if f.attname in given else f.get_default()
                            for f in self._event_fields})
        ev._state = ModelState()
        ev._state.fields_cache[self.event_fk] = doc
        if user is not None:
            ev._state.fields_cache["actor"] = user
        return ev

    def log(self, doc, kind: str, code: str, message="", **kwargs):
        """Write a timeline entry now (see ``event`` for the arguments)."""
        ev = self.event(doc, kind, code, message, **kwargs)
        ev.save()
        return ev

    # --- status -----------------------------------------------------------------------------------
    def set_status(self, doc, to: str, *, why="", code: str = "", actor=None, kind: str | None = None,
                   data: dict | None = None, save: bool = True):
        """Move ``doc`` to status ``to``: refuse a change the transition table does not allow (409),
        stamp the timestamps, write the timeline entry (code default ``status.<to>``). With
        ``save=False`` nothing is written: the document is changed in memory and the unsaved entry
        returned (the caller saves both, e.g. in bulk). With ``skip_unchanged``, the same status is a
        no-op (None)."""
        before = getattr(doc, self.status_field)
        if before == to and self.skip_unchanged:
            return None
        if self.transitions is not None and to not in self.transitions.get(before, frozenset()):
            raise Conflict(str(self.transition_refusal) % {
                "document": capfirst(str(self.model._meta.verbose_name)), "no": self.number(doc),
                "from": before, "to": to, "from_label": self.status_display(doc),
                "to_label": self._status_label(to)})
        setattr(doc, self.status_field, to)
        if self.stamps:
            now = timezone.now()
            for stamp in self.stamps:
                if to in stamp.on and not (stamp.keep_first and getattr(doc, stamp.field) is not None):
                    setattr(doc, stamp.field, now)
        ev = self.event(doc, kind or self.status_kind, code or f"status.{to}", why, actor=actor, from_status=before,
                        to_status=to, data=data)
        if save:
            doc.save()
            ev.save()
        if self.after_status is not None:
            self.after_status(doc, before, to)
        return ev

    def _status_label(self, status: str) -> str:
        choices = dict(self.model._meta.get_field(self.status_field).flatchoices)
        return str(choices.get(status, status))

    # --- locks ------------------------------------------------------------------------------------
    def lock(self, pk):
        """The current tenant's document (an object or its pk), row-locked; another tenant's, none or a
        bad id is a 404."""
        try:
            pk = int(getattr(pk, "pk", pk))
        except (TypeError, ValueError):
            raise Http404(self.not_found) from None
        doc = self.model.objects.select_for_update().filter(pk=pk).first()
        if doc is None:
            raise Http404(self.not_found)
        return doc

    def lock_many(self, pks) -> list:
        """The current tenant's documents among ``pks``, row-locked in id order (the fixed order avoids
        deadlocks); unknown ones are left out, a bad id is a 404."""
        try:
            ids = sorted({int(getattr(pk, "pk", pk)) for pk in pks})
        except (TypeError, ValueError):
            raise Http404(self.not_found) from None
        return list(self.model.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
