"""Bad files get a clear answer (never a 500), header mapping, templates, the API flow under
/api/v1/imports/, the operator pages in both languages, the command, and tenant isolation."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from dataimport.models import ImportJob, JobStatus
from inventory.models import SKU

from .helpers import commit, csv_bytes, dry_run, issues

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"%PDF-1.4 blah", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    (b"PK\x03\x04garbage-not-a-workbook", "not a readable .xlsx"),
    (b"\x00\x01\x02binary\x00stuff" * 10, "not a text or Excel file"),
    (b"abc\x80\xff,\xff\x80\n", "neither UTF-8 nor GB18030"),
    (b"\n\n,,\n", "no rows"),
    ("商家编码,SKU名称\n".encode(), "no data rows"),
])
def test_bad_files_are_refused_with_a_reason(in_tenant_a, data, words):
    job = dry_run("skus", data)
    assert job.status == JobStatus.REFUSED
    assert words in job.file_error, job.file_error
    assert issues(job)[0][0] == 0


def test_a_file_too_large(in_tenant_a, settings):
    settings.DATAIMPORT_MAX_FILE_BYTES = 10 * 1024 * 1024
    big = b"sku_code,name\n" + b"A,B\n" * (50 * 1024 * 1024 // 4)
    job = dry_run("skus", big)
    assert job.status == JobStatus.REFUSED and "50.0 MB" in job.file_error and "limit is 10.0 MB" in job.file_error


def test_missing_required_column_then_mapping_an_unknown_header(in_tenant_a):
    from dataimport import services

    data = csv_bytes([["编码", "SKU名称", "颜色备注"], ["A", "杯子", "红"]])
    job = dry_run("skus", data)
    assert job.status == JobStatus.REFUSED and "商家编码 (SKU code)" in job.file_error
    from dataimport.selectors import job_report

    report = job_report(job)
    assert report["unknown_headers"] == ["编码", "颜色备注"] and [c.key for c in report["missing_required"]] == ["sku_code"]
    services.job_set_mapping(job=job, header_map={"编码": "sku_code"})
    job = services.dry_run(job_id=job.pk)
    assert job.status == JobStatus.VALIDATED and job.to_create == 1
    assert commit(job).created_count == 1 and SKU.objects.get(code="A").name == "杯子"


def test_two_headers_for_one_column_and_duplicate_keys(in_tenant_a):
    job = dry_run("skus", csv_bytes([["sku_code", "商家编码", "name"], ["A", "A", "x"]]))
    assert job.status == JobStatus.REFUSED and "both give" in job.file_error
    job = dry_run("skus", csv_bytes([["sku_code", "name"], ["A", "x"], ["B", "y"], ["A", "z"]]))
    assert [(line, m[:14]) for line, _c, m in issues(job)] == [(4, "duplicate key:")]


def test_utf16_tab_separated_and_semicolons(in_tenant_a):
    text = "商家编码\tSKU名称\n A1 \t 杯子 \n"
    job = dry_run("skus", b"\xff\xfe" + text.encode("utf-16-le"))
    assert job.status == JobStatus.VALIDATED and job.encoding == "utf-16" and job.to_create == 1
    job = dry_run("skus", "sku_code;name\nA2;碗\n".encode())
    assert job.status == JobStatus.VALIDATED and job.to_create == 1


def test_templates_list_every_column(in_tenant_a):
    from openpyxl import load_workbook

    from dataimport.selectors import template_csv, template_xlsx
    from dataimport.specs import all_types

    for spec in all_types():
        book = load_workbook(io.BytesIO(template_xlsx(spec, language="zh")))
        headers = [c.value for c in book.worksheets[0][1]]
        assert headers == [c.zh + ("*" if c.required else "") for c in spec.columns]
        guide = list(book.worksheets[1].iter_rows(values_only=True))
        assert [r[0] for r in guide[1:1 + len(spec.columns)]] == [c.key for c in spec.columns]
        assert template_csv(spec, language="en").startswith(b"\xef\xbb\xbf")
    # a filled English template is accepted as is
    spec = next(t for t in all_types() if t.name == "warehouses")
    book = load_workbook(io.BytesIO(template_xlsx(spec, language="en")))
    sheet = book.worksheets[0]
    sheet.append(["WH1", "Main", "own", "", "", "1", "yes"])
    out = io.BytesIO()
    book.save(out)
    assert dry_run("warehouses", out.getvalue(), name="wh.xlsx").to_create == 1


def test_api_flow(tenant_a, tenant_b, django_capture_on_commit_callbacks):
    api = tenant_a.api()
    assert api.get("/api/v1/imports/types/").status_code == 200
    response = api.get("/api/v1/imports/types/skus/template/?as=csv&lang=en")
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    assert api.get("/api/v1/imports/types/skus/template/?as=pdf").status_code == 400
    assert api.get("/api/v1/imports/types/nope/").status_code == 404
    data = csv_bytes([["sku_code", "name", "unit_cost"], ["A", "杯子", "12"], ["B", "碗", "abc"]])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/imports/jobs/", {"import_type": "skus", "file": SimpleUploadedFile("s.csv", data)},
                            format="multipart")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    detail = api.get(f"/api/v1/imports/jobs/{job_id}/").json()
    assert detail["status"] == "validated" and detail["rejected"] == 1 and detail["issues"][0]["line"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        refused = api.post(f"/api/v1/imports/jobs/{job_id}/commit/", {}, format="json")
    assert refused.status_code == 409 and "valid rows only" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/imports/jobs/{job_id}/commit/", {"valid_only": True}, format="json")
    assert response.status_code == 202
    detail = api.get(f"/api/v1/imports/jobs/{job_id}/").json()
    assert detail["status"] == "done" and detail["created_count"] == 1 and detail["reconciliation_ok"] is True
    assert detail["created_by"] == tenant_a.owner.user.username
    csv_text = api.get(f"/api/v1/imports/jobs/{job_id}/rejected-rows/").content.decode("utf-8-sig")
    assert "abc" in csv_text and "unit_cost: " in csv_text
    assert api.get(f"/api/v1/imports/jobs/{job_id}/issues/").json()["count"] == 1
    # bad input: 400, never 500
    assert api.post("/api/v1/imports/jobs/", {"import_type": "nope"}, format="multipart").status_code == 400
    assert api.post(f"/api/v1/imports/jobs/{job_id}/mapping/", {"header_map": "[1,2]"}, format="json").status_code == 400
    assert api.post(f"/api/v1/imports/jobs/{job_id}/mapping/", {"header_map": {"x": "nope"}}, format="json").status_code in (400, 409)
    # another tenant sees nothing
    other = tenant_b.api()
    assert other.get(f"/api/v1/imports/jobs/{job_id}/").status_code == 404
    assert other.get("/api/v1/imports/jobs/").json()["count"] == 0
    # a role without the import policy is refused
    assert tenant_a.api("warehouse").get("/api/v1/imports/jobs/").status_code == 403


def test_pages_in_both_languages(tenant_a, django_capture_on_commit_callbacks):
    from django.test import Client

    client = Client()
    client.force_login(tenant_a.owner.user)
    for lang in ("en", "zh-hans"):
        client.cookies["django_language"] = lang
        page = client.get("/dataimport/", HTTP_ACCEPT_LANGUAGE=lang)
        assert page.status_code == 200
        assert ("Import data" in page.content.decode()) if lang == "en" else ("商品与SKU" in page.content.decode())
        assert client.get("/dataimport/new/opening_stock/").status_code == 200
        assert client.get("/dataimport/template/orders.xlsx").status_code == 200
    assert client.get("/dataimport/new/nope/").status_code == 404
    client.cookies["django_language"] = "en"  # the rest reads English labels
    data = csv_bytes([["warehouse_code", "sku_code", "quantity"], ["WH", "A", "x"]])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dataimport/new/opening_stock/", {"file": SimpleUploadedFile("o.csv", data)})
    assert response.status_code == 302
    with tenant_a.context():
        job = ImportJob.objects.get()
    page = client.get(f"/dataimport/{job.pk}/")
    assert page.status_code == 200 and "Rejected rows" in page.content.decode()
    assert client.get(f"/dataimport/{job.pk}/progress/").json()["status"] == "validated"
    assert client.get(f"/dataimport/{job.pk}/rejected-rows.csv").status_code == 200
    response = client.post(f"/dataimport/{job.pk}/action/", {"action": "commit"})
    assert response.status_code == 302  # refused with a message: rows were rejected
    with tenant_a.context():
        job.refresh_from_db()
    assert job.status == JobStatus.VALIDATED
    assert client.post(f"/dataimport/{job.pk}/action/", {"action": "mapping", "map_0": "nope"}).status_code == 302
    assert client.post("/dataimport/new/skus/", {}).status_code == 200  # no file: the form says so


def test_the_command(in_tenant_a, tmp_path):
    path = tmp_path / "wh.csv"
    path.write_bytes(csv_bytes([["code", "name"], ["W1", "一号仓"]], encoding="gb18030"))
    out = io.StringIO()
    call_command("import_data", "warehouses", str(path), "--tenant", in_tenant_a.tenant.slug, "--dry-run", stdout=out)
    assert "to create 1" in out.getvalue()
    call_command("import_data", "warehouses", str(path), "--tenant", in_tenant_a.tenant.slug, stdout=out)
    assert "created 1" in out.getvalue() and "ok" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(CommandError):
        call_command("import_data", "warehouses", str(bad), "--tenant", in_tenant_a.tenant.slug, stdout=out)
    with pytest.raises(CommandError):
        call_command("import_data", "nope", str(path), "--tenant", in_tenant_a.tenant.slug, stdout=out)


def test_a_failed_commit_resumes_after_its_last_batch(in_tenant_a, monkeypatch):
    from dataimport import services
    from dataimport.specs import get_type

    spec = get_type("skus")
    monkeypatch.setattr(type(spec), "batch_size", 2, raising=False)
    object.__setattr__(spec, "batch_size", 2)
    rows = [["sku_code", "name"]] + [[f"S{i}", f"n{i}"] for i in range(5)]
    job = dry_run("skus", csv_bytes(rows))
    services.job_commit(job=job, queue=False)
    import inventory.services.imports as writers

    real = writers.skus_import
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2 and kwargs["commit"]:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(writers, "skus_import", flaky)
    with pytest.raises(RuntimeError):
        services.commit_run(job_id=job.pk)
    services.commit_fail(job_id=job.pk, error="RuntimeError: database went away")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.processed_rows == 2 and SKU.objects.count() == 2
    services.job_resume(job=job)
    job.refresh_from_db()
    services.commit_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and SKU.objects.count() == 5 and job.created_count == 5
    object.__setattr__(spec, "batch_size", 2000)
