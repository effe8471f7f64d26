"""Faults injected into real processes (tests/faults/scenarios.py), one test per scenario.

Also runnable as `python bench/faults.py`, which prints what each scenario measured.
"""

from __future__ import annotations

import os

import pytest

from tests.faults import scenarios


def test_a_worker_killed_mid_batch_costs_no_document_and_stores_none_twice(postgres_url, tmp_path):
    result = scenarios.worker_killed(postgres_url, tmp_path)
    assert result.running_when_killed > 0, result  # the kill landed mid-batch
    assert result.ready == result.expected, result
    assert result.failed == 0 and result.duplicated == 0, result


def test_postgres_stopped_under_load_answers_503_then_recovers_without_restart(tmp_path):
    result = scenarios.postgres_stopped(tmp_path)
    assert result.outage_503_retry_after > 0, result
    assert result.outage_other_5xx == 0 and result.outage_hangs == 0, result
    assert not result.outage_other, result
    # Recovery without a restart: scenarios.until fails if no search works within 60 s.
    assert result.uploads_accepted > 0, result
    # Nothing accepted is lost and no job is left running: a job held when the database went
    # away was kept locked for ever by a heartbeat the worker's failed cycle forgot to stop.
    assert result.uploads_ready == result.uploads_accepted, result
    assert not result.jobs_left, result


def test_redis_killed_and_restarted_costs_no_answer_and_resume_comes_back(postgres_url, tmp_path):
    result = scenarios.redis_killed(postgres_url, tmp_path)
    assert result.answers_ok_during == result.answers_during, result
    assert result.resume_status_down == 503, result
    assert result.resume_code_down == "stream_log_unavailable", result
    assert result.answers_ok_after == 2, result
    assert result.resume_status_after == 200 and result.resume_complete_after, result


def _refused_with_507(result: scenarios.RefusedUpload) -> None:
    """A clear 507, and no row left; skipped only off CI when no tmpfs can be mounted."""
    if not result.mounted:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to run this: {result.skipped}")
        pytest.skip(result.skipped)
    assert result.status == 507 and result.code == "insufficient_storage", result
    assert "disk space" in result.message and "nothing was stored" in result.message, result
    assert result.rows_left == 0, result


def test_disk_full_while_spooling_answers_507_and_keeps_nothing(postgres_url, tmp_path):
    result = scenarios.disk_full(postgres_url, tmp_path)
    _refused_with_507(result)
    assert result.spool_files_left == 0, result
    assert result.next_status == 202 and result.next_ready, result


def test_database_disk_full_on_upload_answers_507_and_keeps_nothing(postgres_url, tmp_path):
    _refused_with_507(scenarios.database_full(postgres_url, tmp_path))


def test_web_workers_recycled_mid_stream_cost_no_answer(postgres_url, tmp_path):
    result = scenarios.worker_recycled(postgres_url, tmp_path)
    assert result.answers > 0 and result.complete == result.answers, result
    assert result.gap_or_repeat == 0 and result.not_done == 0, result
    # More asks (48) than the two workers' 40 requests, so at least one worker reached its
    # limit mid-stream (two did only when Nginx spread the requests evenly: one CI run in
    # three had one); some streams were handed over, or this test did not test anything.
    assert result.resumed > 0 and result.recycled >= 1, result
