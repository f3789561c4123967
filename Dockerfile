# One image for web, worker, beat and the mock platforms (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY erp ./erp
COPY orders ./orders
COPY inventory ./inventory
COPY purchasing ./purchasing
COPY finance ./finance
COPY aftersales ./aftersales
COPY members ./members
COPY integrations ./integrations
RUN pip install .
COPY . .
RUN SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 python manage.py collectstatic --noinput -v0
RUN useradd --create-home erp && chown -R erp /app
USER erp
EXPOSE 8000
CMD ["gunicorn", "erp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
