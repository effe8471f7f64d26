"""Chinese, Japanese and Korean text is searchable: CJK runs are indexed as bigrams."""

import asyncio

import pytest

from app.text.cjk import cjk_bigrams
from tests.db.test_search import _fetch
from tests.helpers import ingest

SAMPLES = [
    "东京的夜景很美。",
    "Tokyo 東京タワーは高い。Skytree",
    "한국어 검색 엔진",
    "单",
    "mixed 中文 and English, 日本語のテキスト!",
    "no CJK at all",
    "",
]

DOCUMENTS = {
    "night.txt": "上海的夜景非常漂亮，外滩的灯光吸引了很多游客。",
    "tea.txt": "中国的绿茶历史悠久，龙井茶产自杭州西湖。",
    "tower.txt": "東京タワーは1958年に完成した電波塔です。The Tokyo Skytree opened in 2012.",
    "seoul.txt": "서울의 한강 공원은 산책하기 좋은 곳입니다.",
    "english.txt": "The lighthouse keeper climbs the stairs every evening at dusk.",
}


def test_the_sql_bigrams_equal_the_python_twin(settings):
    url = settings.database_url
    for text in SAMPLES:
        rows = asyncio.run(_fetch(url, f"SELECT cjk_bigrams({_literal(text)}) AS b"))
        assert rows[0]["b"].split() == cjk_bigrams(text).split(), text


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("夜景", "night.txt"),  # a word inside a Chinese sentence
        ("龙井茶", "tea.txt"),
        ("タワー", "tower.txt"),  # Katakana inside Japanese text
        ("Skytree", "tower.txt"),  # a Latin word of mixed-script text
        ("한강", "seoul.txt"),
        ("lighthouse keeper", "english.txt"),
    ],
)
def test_issue_a_cjk_word_inside_a_sentence_is_found(client, query, expected):
    titles = {ingest(client, name, text)["id"]: name for name, text in DOCUMENTS.items()}
    response = client.get("/api/search", params={"q": query, "k": 3, "cache": "off"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results and titles[results[0]["document_id"]] == expected, (query, results)


def test_issue_chinese_the_detector_is_unsure_of_is_still_indexed_as_cjk():
    from app.text.language import text_search_config

    # py3langid gave this 'zh' at 0.80, under its threshold: it was indexed as English.
    text = "《战国无双3》是由光荣和ω-force开发的战国无双系列的正统第三续作。本作以三大故事为主轴"
    assert text_search_config(text) == "simple"
    assert text_search_config("The lighthouse keeper climbs the stairs every evening.") == "english"
