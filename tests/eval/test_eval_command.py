"""`python -m app eval` on a tiny BEIR dataset written by the test."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.eval.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[2]
CORPUS = [
    ("d1", "Tea", "Green tea is steeped at eighty degrees for two minutes."),
    ("d2", "Coffee", "Espresso is brewed by forcing hot water through finely ground coffee."),
    ("d3", "Bread", "Sourdough bread rises slowly thanks to wild yeast and bacteria."),
    ("d4", "Cheese", "Cheddar cheese is aged for months in cool caves."),
]
QUERIES = [("q1", "how hot should water be for green tea"), ("q2", "what makes sourdough rise")]


def write_dataset(folder: Path, header: bool) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, title, text in CORPUS:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        for query_id, text in [*QUERIES, ("q3", "an unjudged query")]:
            out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    rows = ["q1\td1\t2", "q2\td3\t1", "q2\td4\t0"]
    (folder / "qrels" / "test.tsv").write_text(
        ("query-id\tcorpus-id\tscore\n" if header else "") + "\n".join(rows) + "\n"
    )
    return folder


@pytest.mark.parametrize("header", [True, False])
def test_dataset_loads_with_or_without_header(tmp_path, header):
    dataset = load_dataset(write_dataset(tmp_path / "set", header))
    assert dataset.qrels == {"q1": {"d1": 2}, "q2": {"d3": 1}}
    assert set(dataset.queries) == {"q1", "q2"}  # unjudged queries are left out


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        load_dataset(tmp_path)


def test_eval_prints_every_method_as_json(tmp_path, database_url):
    folder = write_dataset(tmp_path / "tiny", header=True)
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "app", "eval", str(folder), "--json"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["documents"] == 4 and report["queries"] == 2
    for method in ("lexical", "vector", "hybrid", "bm25", "dense"):
        assert set(report[method]) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms"}
        # Both questions are easy: every method must put the answer first.
        assert report[method]["mrr@10"] == 1.0, (method, report[method])
    # A second run reuses the ingested collection and ranks the same.
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    rerun = json.loads(again.stdout.strip().splitlines()[-1])
    assert rerun["chunks"] == report["chunks"]
    for metric in ("ndcg@10", "recall@100", "mrr@10"):
        assert rerun["hybrid"][metric] == report["hybrid"][metric]
