"""One member across platforms: identities matched by buyer id and by phone; merges and unmerges."""

import pytest

from erp.api.exceptions import Conflict
from members import selectors, services
from members.models import Member, MemberIdentity, MemberMerge, MergeReason

pytestmark = pytest.mark.django_db


def match(platform, buyer, phone="", name="买家"):
    return services.identity_match(platform=platform, buyer_id=buyer, name=name, phone=phone)


def test_same_buyer_id_is_the_same_member(in_tenant_a):
    a = match("taobao", "tb1", "13800000001")
    b = match("taobao", "tb1", "")
    assert a.pk == b.pk and Member.objects.count() == 1


def test_same_phone_across_platforms_is_one_member(in_tenant_a):
    tb = match("taobao", "tb1", "13800000001")
    jd = match("jd", "jd1", "+86 138-0000-0001")
    pdd = match("pdd", "pdd1", "0086 13800000001")
    assert tb.member_id == jd.member_id == pdd.member_id
    assert jd.matched_by == "phone" and Member.objects.count() == 1
    assert Member.objects.get().phone_masked == "138****0001"


def test_different_or_masked_or_virtual_phones_never_match(in_tenant_a):
    a = match("taobao", "tb1", "13800000001")
    b = match("jd", "jd1", "13800000002")
    c = match("pdd", "pdd1", "138****0001")
    d = match("jd", "jd2", "13800000001-4321")  # a platform privacy number: shared by many buyers
    assert len({a.member_id, b.member_id, c.member_id, d.member_id}) == 4
    # a known buyer showing another phone keeps its member and merges nothing
    again = match("jd", "jd1", "13800000001")
    assert again.member_id == b.member_id and not MemberMerge.objects.exists()


def test_phone_learned_later_merges_and_records_it(in_tenant_a):
    first = match("taobao", "tb1", "13800000001")
    later = match("pdd", "pdd1", "")  # no phone yet: a member of its own
    assert later.member_id != first.member_id
    match("pdd", "pdd1", "13800000001")
    record = MemberMerge.objects.get()
    assert (record.target_id, record.source_id, record.reason) == (first.member_id, later.member_id, MergeReason.PHONE)
    assert Member.objects.get(pk=later.member_id).merged_into_id == first.member_id


def test_manual_merge_and_unmerge(in_tenant_a, tenant_a):
    a = match("taobao", "tb1", "13800000001").member
    b = match("jd", "jd1").member
    services.points_adjust(member_id=a.pk, amount=10, reason="x")
    services.points_adjust(member_id=b.pk, amount=5, reason="y")
    user = tenant_a.members["service"].user
    services.member_merge(target_id=a.pk, source_id=b.pk, actor=user, note="same person")
    a.refresh_from_db()
    assert a.points_balance == 15 and services.points_balance(member_id=a.pk) == 15
    assert {i.buyer_id for i in selectors.member_identities(a)} == {"tb1", "jd1"}
    assert MemberMerge.objects.get().actor == user
    with pytest.raises(Conflict):
        services.member_merge(target_id=a.pk, source_id=b.pk)  # already merged
    services.member_unmerge(member_id=b.pk, actor=user)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.points_balance, b.points_balance, b.merged_into_id) == (10, 5, None)
    assert MemberMerge.objects.get().unmerged_at is not None
    with pytest.raises(Conflict):
        services.member_unmerge(member_id=b.pk)  # not merged any more


def test_unmerged_members_are_not_merged_again_by_phone(in_tenant_a):
    a = match("taobao", "tb1", "13800000001")
    b = match("pdd", "pdd1", "")
    match("pdd", "pdd1", "13800000001")
    services.member_unmerge(member_id=b.member_id)
    match("pdd", "pdd1", "13800000001")
    assert Member.objects.get(pk=b.member_id).merged_into_id is None
    assert Member.objects.get(pk=a.member_id).merged_into_id is None


def test_merging_different_phones_needs_confirmation(in_tenant_a):
    a = match("taobao", "tb1", "13800000001").member
    b = match("jd", "jd1", "13900000009").member
    with pytest.raises(Conflict):
        services.member_merge(target_id=a.pk, source_id=b.pk)
    assert Member.objects.get(pk=b.pk).merged_into_id is None
    services.member_merge(target_id=a.pk, source_id=b.pk, allow_different_phones=True)
    assert Member.objects.get(pk=b.pk).merged_into_id == a.pk


def test_merge_carries_members_merged_before_and_unmerge_brings_them_back(in_tenant_a):
    a, b, c = (match("taobao", f"tb{i}").member for i in range(3))
    services.member_merge(target_id=b.pk, source_id=c.pk)
    services.member_merge(target_id=a.pk, source_id=b.pk)
    assert Member.objects.get(pk=c.pk).merged_into_id == a.pk  # always points at the root
    services.member_unmerge(member_id=b.pk)
    assert Member.objects.get(pk=c.pk).merged_into_id == b.pk


def test_unmerge_refused_when_points_were_spent(in_tenant_a):
    a = match("taobao", "tb1").member
    b = match("jd", "jd1").member
    services.points_adjust(member_id=b.pk, amount=50, reason="x")
    services.member_merge(target_id=a.pk, source_id=b.pk)
    services.points_redeem(member_id=a.pk, amount=40)
    with pytest.raises(Conflict):
        services.member_unmerge(member_id=b.pk)
    assert Member.objects.get(pk=b.pk).merged_into_id == a.pk


def test_merge_into_itself_is_bad_input(in_tenant_a):
    from django.core.exceptions import ValidationError

    a = match("taobao", "tb1").member
    with pytest.raises(ValidationError):
        services.member_merge(target_id=a.pk, source_id=a.pk)


def test_buyer_levels_one_query_and_root_level(in_tenant_a, levels, django_assert_num_queries):
    a = match("taobao", "tb1").member
    b = match("jd", "jd1").member
    Member.objects.filter(pk=a.pk).update(level=levels[3])
    Member.objects.filter(pk=b.pk).update(level=levels[1])
    services.member_merge(target_id=a.pk, source_id=b.pk)
    Member.objects.filter(pk=b.pk).update(level=levels[1])
    with django_assert_num_queries(1):
        got = selectors.buyer_levels(platform="jd", buyer_ids=["jd1", "nobody"] + [f"x{i}" for i in range(300)])
    assert got == {"jd1": 3}
    assert selectors.buyer_levels(platform="taobao", buyer_ids=["tb1"]) == {"tb1": 3}
    assert selectors.buyer_levels(platform="taobao", buyer_ids=[]) == {}
    assert MemberIdentity.objects.count() == 2
