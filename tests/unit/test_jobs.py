"""Background jobs: ids that name a job and nothing else, what a job records of its database."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotiondesk.cli.learn_cmd import _job_database
from emotiondesk.errors import InvalidInputError, NotFoundError
from emotiondesk.training.jobs import JOB_FILE, find_job


def test_a_job_id_names_a_job_directory_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    job = root / "20261129-130000-abc123"
    job.mkdir(parents=True)
    (job / JOB_FILE).write_text("{}")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / JOB_FILE).write_text("{}")
    assert find_job(root, "20261129-130000-abc123") == job
    assert find_job(root, "20261129") == job  # a unique prefix
    for bad in ("../outside", "", "*", "2026*", "a/b"):
        with pytest.raises(InvalidInputError, match="no job id"):
            find_job(root, bad)
    with pytest.raises(NotFoundError):
        find_job(root, "nope")


def test_a_job_records_its_database_as_a_resume_elsewhere_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _job_database("shop.db") == str(tmp_path / "shop.db")  # absolute
    assert _job_database(None) is None  # the environment's, read by the job
    url = "postgresql+psycopg://shop@db.internal/emotiondesk"
    assert _job_database(url) == url
    with pytest.raises(InvalidInputError, match="EMOTIONDESK_DATABASE_URL"):
        _job_database("postgresql+psycopg://shop:secret@db.internal/emotiondesk")
