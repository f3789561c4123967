"""Writes of the data import app: jobs (upload, mapping, dry run, commit, resume) and the pipeline
that streams a file through the owning app's set-based writer (``<app>.services.imports``)."""

from .jobs import job_commit, job_create, job_resume, job_set_mapping, job_start_dry_run
from .pipeline import commit_fail, commit_run, dry_run, dry_run_fail, map_headers, rejected_rows

__all__ = ["commit_fail", "commit_run", "dry_run", "dry_run_fail", "job_commit", "job_create", "job_resume", "job_set_mapping",
           "job_start_dry_run", "map_headers", "rejected_rows"]
