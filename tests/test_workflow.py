"""erp.workflow: one document workflow for every document type (checked here on a test configuration
over the after-sales ticket tables, independent of the apps' own configurations)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext_lazy

from aftersales.models import Ticket, TicketEvent
from aftersales.models import TicketStatus as S
from erp.api.exceptions import Conflict
from erp.workflow import ALLOW, Action, DocumentWorkflow, Stamp, actor_label, actor_user, why_required


def make(**overrides):
    config = dict(
        model=Ticket, event_model=TicketEvent, event_fk="ticket", status_kind="status",
        not_found="No such ticket.",
        refusal=gettext_lazy("Ticket %(no)s is %(status)s: cannot %(action)s it."),
        actions={
            "approve": Action({S.OPEN}, gettext_lazy("approve")),
            "cancel": Action({S.OPEN, S.APPROVED}, gettext_lazy("cancel"),
                             checks=(lambda t: "It has goods back." if t.goods_received_at else "",)),
            "receive_goods": Action({S.APPROVED}, gettext_lazy("receive goods"),
                                    guards=(lambda t: "No goods come back." if t.kind == "refund_only" else "",
                                            lambda t: ALLOW if t.status == S.COMPLETED else "")),
            "refund": Action(None, gettext_lazy("refund"),
                             guards=(lambda t: "" if t.status == S.GOODS_RECEIVED else "Needs the goods.",)),
        },
        stamps=[Stamp("approved_at", {S.APPROVED, S.COMPLETED}, keep_first=True), Stamp("closed_at", {S.COMPLETED})],
    )
    config.update(overrides)
    return DocumentWorkflow(**config)


@pytest.fixture
def ticket(in_tenant_a):
    return Ticket.objects.create(number="AS1", kind="return_refund")


@pytest.fixture
def user(tenant_a):
    return tenant_a.owner.user


def test_actor_user_and_label(user):
    assert actor_user(None) is None and actor_label(None) == "system"
    assert actor_user(AnonymousUser()) is None and actor_label(AnonymousUser()) == "system"
    assert actor_user(user) is user and actor_label(user) == user.get_username()


def test_why_required():
    assert why_required("  broken  ") == "broken"
    for blank in ("", "   ", None):
        with pytest.raises(ValidationError) as exc:
            why_required(blank, "reason")
        assert exc.value.message_dict == {"reason": ["Say why."]}


def test_refusal_state_table_rules_and_allow(ticket):
    wf = make()
    assert wf.allowed_actions(ticket) == ["approve", "cancel"]
    assert wf.refusal(ticket, "receive_goods") == "Ticket AS1 is Open: cannot receive goods it."
    assert wf.refusal(ticket, "refund") == "Needs the goods."  # no state table: the rule alone
    assert wf.refusal(ticket, "nope") == "Unknown action."
    ticket.kind = "refund_only"
    assert wf.refusal(ticket, "receive_goods") == "No goods come back."  # a guard comes before the state check
    ticket.kind, ticket.status = "return_refund", S.COMPLETED
    assert wf.refusal(ticket, "receive_goods") == ""  # ALLOW: allowed whatever the state table says
    ticket.status = S.APPROVED
    from django.utils import timezone

    ticket.goods_received_at = timezone.now()
    assert wf.refusal(ticket, "cancel") == "It has goods back."  # a check runs after the state check
    assert wf.label("cancel") == "cancel" and wf.label("unknown") == "unknown"


def test_refusal_is_translated(ticket):
    wf = make()
    with translation.override("zh-hans"):
        assert wf.refusal(ticket, "nope") == "未知操作。"
        assert "AS1" in wf.refusal(ticket, "receive_goods")


def test_check_raises_conflict_and_changes_nothing(ticket):
    wf = make()
    with pytest.raises(Conflict) as exc:
        wf.check(ticket, "receive_goods")
    assert exc.value.status_code == 409 and "cannot receive goods" in str(exc.value.detail)
    wf.check(ticket, "approve")  # allowed: no exception
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN and not TicketEvent.objects.exists()


def test_set_status_stamps_and_logs_with_actor(ticket, user):
    wf = make()
    ev = wf.set_status(ticket, S.APPROVED, why="ok", code="approved", actor=user, data={"x": 1})
    ticket.refresh_from_db()
    assert ticket.status == S.APPROVED and ticket.approved_at is not None
    first = ticket.approved_at
    stored = TicketEvent.objects.get(pk=ev.pk)
    assert (stored.ticket_id, stored.kind, stored.code, stored.message, stored.actor_id, stored.actor_label,
            stored.from_status, stored.to_status, stored.data) == (
        ticket.pk, "status", "approved", "ok", user.pk, user.get_username(), S.OPEN, S.APPROVED, {"x": 1})
    ev = wf.set_status(ticket, S.COMPLETED, kind="action")  # system: no actor; default code
    ticket.refresh_from_db()
    assert ticket.approved_at == first and ticket.closed_at is not None  # keep_first keeps the first stamp
    assert (ev.code, ev.kind, ev.actor_id, ev.actor_label) == ("status.completed", "action", None, "system")


def test_set_status_unsaved_for_bulk(ticket):
    wf = make()
    ev = wf.set_status(ticket, S.APPROVED, why="later", save=False)
    assert ev.pk is None and ticket.status == S.APPROVED
    assert Ticket.objects.get(pk=ticket.pk).status == S.OPEN and not TicketEvent.objects.exists()
    TicketEvent.objects.bulk_create([ev])
    assert TicketEvent.objects.get().to_status == S.APPROVED


def test_transitions_skip_unchanged_and_after_status(ticket):
    seen = []
    wf = make(transitions={S.OPEN: {S.APPROVED}, S.APPROVED: set()}, skip_unchanged=True,
              after_status=lambda doc, before, to: seen.append((before, to)))
    assert wf.set_status(ticket, S.OPEN) is None and not TicketEvent.objects.exists()
    with pytest.raises(Conflict) as exc:
        wf.set_status(ticket, S.COMPLETED)
    assert str(exc.value.detail) == "After-sales ticket AS1 cannot go from Open to Completed."
    assert Ticket.objects.get(pk=ticket.pk).status == S.OPEN
    wf.set_status(ticket, S.APPROVED)
    assert seen == [(S.OPEN, S.APPROVED)]


def test_event_is_the_constructor_instance(ticket, user):
    wf = make()
    fast = wf.event(ticket, "action", "c" * 60, "m" * 1200, actor=user, from_status="a", to_status="b")
    slow = TicketEvent(tenant_id=ticket.tenant_id, ticket=ticket, kind="action", code="c" * 40, message="m" * 1000,
                       actor=user, actor_label=user.get_username(), from_status="a", to_status="b", data={})
    for field in TicketEvent._meta.concrete_fields:
        if field.attname != "created_at":
            assert getattr(fast, field.attname) == getattr(slow, field.attname), field.attname
    assert fast.created_at is not None and fast.ticket is ticket and fast.actor is user
    with CaptureQueriesContext(connection) as queries:
        assert fast.ticket.number == "AS1" and fast.actor == user  # cached, no query
    assert not queries.captured_queries
    fast.save()
    assert TicketEvent.objects.get(pk=fast.pk).code == "c" * 40


def test_log_as_anonymous_is_system(ticket):
    ev = make().log(ticket, "system", "x", "hello", actor=AnonymousUser())
    ev.refresh_from_db()
    assert (ev.actor_id, ev.actor_label, ev.message, ev.data) == (None, "system", "hello", {})


def test_lock_and_lock_many(ticket, tenant_b):
    wf = make()
    assert wf.lock(ticket.pk) == ticket and wf.lock(ticket) == ticket and wf.lock(str(ticket.pk)) == ticket
    other = Ticket.objects.create(number="AS2", kind="refund_only")
    assert wf.lock_many([other.pk, ticket, 999999]) == [ticket, other]  # id order, unknown left out
    for bad in ("x", None, 999999):
        with pytest.raises(Http404, match="No such ticket."):
            wf.lock(bad)
    with pytest.raises(Http404):
        wf.lock_many(["x"])
    with tenant_b.context():  # another tenant's document is not found
        with pytest.raises(Http404):
            wf.lock(ticket.pk)
