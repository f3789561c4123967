"""Serve the UI and API with the background jobs running, and stop everything together.

* With REDIS_URL set: a Celery worker and beat (database schedule) run as child processes.
* Without it: Celery runs tasks eagerly and beat runs as a thread inside this process.
* Each domain app may add child processes (e.g. the mock platforms) through ``<app>/serve.py``
  defining ``processes() -> list[list[str]]``.
"""

import signal
import subprocess
import sys
from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from erp.api.urls import DOMAIN_APPS


class Command(BaseCommand):
    help = "Run the web server plus background jobs (worker and beat, or in-process)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-jobs", action="store_true", help="serve only the web app")

    def handle(self, *args, addrport, no_jobs, **options):
        children: list[subprocess.Popen] = []
        python = sys.executable
        if not no_jobs:
            for app in DOMAIN_APPS:
                if find_spec(f"{app}.serve") is not None:
                    for argv in import_module(f"{app}.serve").processes():
                        children.append(subprocess.Popen(argv))
            if settings.REDIS_URL:
                celery = [python, "-m", "celery", "-A", "erp"]
                children.append(subprocess.Popen([*celery, "worker", "-l", "info", "--concurrency", "2"]))
                children.append(subprocess.Popen([*celery, "beat", "-l", "info", "-S", settings.CELERY_BEAT_SCHEDULER]))
                self.stdout.write("Celery worker and beat started (Redis at REDIS_URL).")
            else:
                from celery.beat import EmbeddedService

                from erp.celery import app

                app.loader.import_default_modules()  # autodiscover every app's tasks, as a worker does
                EmbeddedService(app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER).start()
                self.stdout.write("Background jobs run in-process (no REDIS_URL).")
        try:
            call_command("runserver", addrport, use_reloader=False, use_threading=True)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
