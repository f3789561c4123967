import pytest


@pytest.fixture(autouse=True)
def _import_dir(settings, tmp_path):
    settings.DATAIMPORT_DIR = str(tmp_path / "imports")


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield
