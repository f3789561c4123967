"""Test settings: the project's settings plus a small tenant-scoped app used by the foundation tests."""

from erp.settings import *  # noqa: F403
from erp.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.tenantapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True  # a failing task fails the test
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "channel": "100000/min"}}  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
ROOT_URLCONF = "tests.urls"
# Client.login() authenticates without a request; pages still go through the real lockout check.
AUTHENTICATION_BACKENDS = ["tests.axes_backend.AxesBackendForTestClient", "django.contrib.auth.backends.ModelBackend"]
