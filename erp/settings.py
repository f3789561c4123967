"""Settings for the ERP, all from environment variables (see the README's configuration table).

With no DATABASE_URL the project runs on an embedded SQLite file; with no REDIS_URL background jobs
run in-process (Celery eager mode plus an embedded beat thread started by ``manage.py serve``).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DEBUG", default=False)
_INSECURE_DEV_KEY = "django-insecure-dev-only-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_DEV_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "unfold.contrib.simple_history",
    "erp.admin_site.ERPAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "import_export",
    "axes",
    "erp.tenancy",
    "orders",
    "inventory",
    "purchasing",
    "finance",
    "aftersales",
    "members",
    "integrations",
    "dataimport",
    "warehouse",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "erp.client_errors.ClientErrorMiddleware",  # oversized/malformed bodies: 413/400, a warning
    "erp.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "erp.tenancy.middleware.TenantMiddleware",
    "erp.db.routers.ReadReplicaMiddleware",  # READ_REPLICA_VIEWS read the replica (when there is one)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a login refused for too many failures into the lockout page (erp/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "erp.urls"
WSGI_APPLICATION = "erp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "erp.tenancy.context_processors.tenancy",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Postgres URLs use our backend, which adds row-level security (see erp/db/backends/postgresql).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    DATABASES["default"]["ENGINE"] = "erp.db.backends.postgresql"
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The ordinary role every connection switches to, so that row-level security applies even
    # when the login user is a superuser (superusers and BYPASSRLS roles skip every policy).
    DATABASES["default"]["APP_ROLE"] = env.str("DATABASE_APP_ROLE", default="erp_app")
    # Behind a pooler in transaction mode (PgBouncer pool_mode=transaction) nothing may be set for
    # the session: the role and tenant settings become transaction-local (erp/db/backends/postgresql).
    DATABASE_POOL_MODE = env.str("DATABASE_POOL_MODE", default="session")
    if DATABASE_POOL_MODE not in ("session", "transaction"):
        raise ImproperlyConfigured("DATABASE_POOL_MODE must be 'session' (direct) or 'transaction' (PgBouncer).")
    DATABASES["default"]["POOL_MODE"] = DATABASE_POOL_MODE
    # The per-request hot queries (token lookup, order list/detail) are prepared once per connection;
    # not behind a transaction pooler (PgBouncer < 1.21 cannot carry prepared statements).
    DATABASES["default"]["PREPARE_HOT_QUERIES"] = env.bool(
        "DATABASE_PREPARE_HOT_QUERIES", default=DATABASE_POOL_MODE != "transaction")
    if DATABASE_POOL_MODE == "transaction":
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True  # a named cursor outlives no transaction there
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default="test_erp")
    # An optional streaming replica for reads that may lag a moment (reports, BI, big screens): only
    # code under erp.db.routers.read_replica() reads there; everything else uses the primary.
    if env.str("DATABASE_REPLICA_URL", default=""):
        DATABASES["replica"] = {
            **env.db_url("DATABASE_REPLICA_URL"),
            "ENGINE": "erp.db.backends.postgresql",
            "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
            "CONN_HEALTH_CHECKS": True,
            "APP_ROLE": DATABASES["default"]["APP_ROLE"],
            "REPLICA": True,
            "POOL_MODE": env.str("DATABASE_REPLICA_POOL_MODE", default="session"),
            "PREPARE_HOT_QUERIES": False,
            "ATOMIC_REQUESTS": False,  # read-only: no transaction per request on the standby
            "TEST": {"MIRROR": "default"},  # tests read the primary's test database through it
        }
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# Every request is one transaction: a refused write (even a database constraint) leaves nothing behind.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "erp.db.backends.postgresql"
DATABASE_ROUTERS = ["erp.db.routers.ReplicaRouter"]  # reads under read_replica() may go to the replica
# The views whose reads may lag a moment and go to the replica: reports, BI feeds, dashboards (view
# names; erp.db.routers.ReadReplicaMiddleware). A big screen or a new report joins by its name here.
READ_REPLICA_VIEWS = [
    "dashboard",
    "orders:reports", "orders:reports-export", "orders-report-sales",
    "aftersales:report", "aftersales-ticket-report",
    "finance:account-ledger", "finance-ledger-list", "finance-report-trial-balance",
    "finance-report-profit-and-loss", "finance-report-profit-by", "finance-report-reconciliation",
    "analytics:bigscreen", "analytics-sales", "analytics-bigscreen", "analytics-bi", "analytics-bi-datasets",
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, time ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password guessing: django-axes counts failed logins (operator login, admin login, signup) per
# username and per client address; either one reaching the limit locks for the cool-off time.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = "erp.lockout.lockout_parameters"
AXES_COOLOFF_TIME = "erp.lockout.cool_off"
AXES_LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", default=15)
AXES_LOCKOUT_CALLABLE = "erp.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = False  # else logging into one's own account would wipe the address's count
AXES_ENABLE_ADMIN = False  # erp/lockout_admin.py registers an Unfold admin for platform superusers
AXES_IPWARE_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (manage.py check --deploy is clean with DEBUG=0 and a real SECRET_KEY) --------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "erp.tenancy.authentication.MembershipTokenAuthentication",
        "erp.tenancy.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["erp.tenancy.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "erp.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "erp.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "erp.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["erp.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_THROTTLE_RATE", default="600/min"),
        "channel": env.str("CHANNEL_THROTTLE_RATE", default="3000/min"),
    },
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Seller ERP API",
    "DESCRIPTION": (
        "Multi-tenant ERP for sellers on Taobao/Tmall, JD, Pinduoduo and their own web shop. "
        "Authenticate with `Authorization: Token <key>` (one key per membership, from "
        "`manage.py issue_api_token`); every object belongs to the token's tenant. Errors use one "
        'shape: `{"detail": "...", "errors": {"field": ["message"]}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cache: shared through Redis when there is one (API throttling, locks, dedupe across processes) --
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "erp"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # embedded mode: tasks run eagerly, in process
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# In-process jobs must not break the request that queued them: a failing job is logged, not raised.
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False  # opted in per idempotent task
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# A task a killed worker held comes back after visibility_timeout (kombu's default: 1 hour). It must
# stay longer than any task's run (CELERY_TASK_TIME_LIMIT) and any countdown/ETA, or a live task is
# delivered twice; the restore sweep runs every unacked_restore_interval seconds (default 100 s).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=360),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=5),
    "unacked_restore_throttle": 1,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging: JSON lines carrying tenant and request/task id ---------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "erp.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(tenant)s %(request_id)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "WARNING"},
        # embedded mode runs every task in process: one "succeeded" line per task drowns the console
        **({} if REDIS_URL else {"celery.app.trace": {"level": "WARNING"}}),
    },
}

# --- Application --------------------------------------------------------------------------------
DEMO_TENANT_SLUG = "demo"
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
MOCK_PLATFORMS_URL = env.str("MOCK_PLATFORMS_URL", default="http://127.0.0.1:8100")
DEFAULT_CURRENCY = "CNY"

# Admin look and navigation (Unfold); the sidebar and index titles come from erp/admin_nav.py.
from django.urls import reverse_lazy as _reverse_lazy  # noqa: E402
from django.utils.translation import gettext_lazy as _lazy  # noqa: E402

UNFOLD = {
    "SITE_TITLE": _lazy("Seller ERP"),
    "SITE_HEADER": _lazy("Seller ERP"),
    "SITE_SUBHEADER": _lazy("Administration"),
    "SITE_URL": "/",
    "SITE_SYMBOL": "storefront",
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": "erp.admin_nav.favicon_url"}],
    "STYLES": ["erp.admin_nav.admin_css_url"],
    "SITE_DROPDOWN": [
        {"icon": "space_dashboard", "title": _lazy("Dashboard"), "link": _reverse_lazy("dashboard")},
        {"icon": "api", "title": _lazy("API documentation"), "link": _reverse_lazy("api-docs")},
    ],
    "SHOW_LANGUAGES": True,
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": True,
    "SHOW_BACK_BUTTON": True,
    "DASHBOARD_CALLBACK": "erp.admin_nav.dashboard_callback",
    "ACCOUNT": {
        "navigation": [{"title": _lazy("Dashboard"), "link": _reverse_lazy("dashboard")}],
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "erp.admin_nav.sidebar_navigation",
    },
    # Blue, as the operator pages (static/erp/erp.css --accent).
    "COLORS": {
        "primary": {
            "50": "oklch(97% .014 254.604)",
            "100": "oklch(93.2% .032 255.585)",
            "200": "oklch(88.2% .059 254.128)",
            "300": "oklch(80.9% .105 251.813)",
            "400": "oklch(70.7% .165 254.624)",
            "500": "oklch(62.3% .214 259.815)",
            "600": "oklch(54.6% .245 262.881)",
            "700": "oklch(48.8% .243 264.376)",
            "800": "oklch(42.4% .199 265.638)",
            "900": "oklch(37.9% .146 265.522)",
            "950": "oklch(28.2% .091 267.935)",
        },
    },
}
