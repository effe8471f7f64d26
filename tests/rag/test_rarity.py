"""The extractive answerer weighs the question's terms by their rarity in the collection (the
lexicon's document frequencies): a passage holding only its common words does not answer a
question whose rare words the collection never holds (issue 20, Portuguese absent questions:
"oxigênio" asked of documents on steam engines)."""

import asyncio
import functools

from app.db.pool import create_pool
from app.embedders import load_embedder
from app.eval.run import collection_name, ensure_ingested
from app.eval.squad import Article, as_corpus
from app.llm import Passage
from app.llm.asks import read_question
from app.llm.extractive import choose
from app.rag.retriever import Retriever, Scope
from app.text.language import text_search_config

STEAM = (
    "A máquina a vapor aquece a água numa caldeira até ferver. O vapor sai da caldeira a alta "
    "pressão e empurra o pistão.",
    "A água fria do condensador transforma o vapor de novo em água, que volta à caldeira. Um "
    "tipo de bomba devolve a água lentamente.",
    "O carvão queima na fornalha e o ar alimenta a combustão. As primeiras máquinas consumiam "
    "muito carvão.",
    "A máquina de Newcomen foi construída em 1712 para bombear água das minas.",
)
# More of the collection: "água" and "tipo" are common in it.
OTHERS = tuple(
    f"Este tipo de caldeira {n} usa água tratada e um tipo de válvula de segurança."
    for n in range(8)
)
QUESTION = "Em que tipo de água o oxigênio se dissolve?"


async def _ask(settings) -> tuple[dict[str, float], object, object]:
    pool = await create_pool(settings.database_url, max_size=2)
    embedder = await load_embedder(settings)
    try:
        corpus = as_corpus("rarity", [Article("Vapor", STEAM + OTHERS, ())])
        await ensure_ingested(pool, embedder, corpus)
        retriever = Retriever(pool, embedder)
        # The collections the search resolved weigh the terms: no second look at the scope.
        retrieval = await retriever.retrieve(QUESTION, scope=Scope(collection_name(corpus)))
        assert len(retrieval.collection_ids) == 1
        rarity = functools.partial(retriever.rarity, collection_ids=retrieval.collection_ids)
        passages = [
            Passage(n, f"d{n}", "Vapor", text, text[:20], None, [], 1.0)
            for n, text in enumerate(STEAM, start=1)
        ]
        weights = await rarity(["águ", "tip", "newcomen", "oxigêni"])
        collection = await choose(QUESTION, passages, embedder, rarity=rarity)
        alone = await choose(QUESTION, passages, embedder)
        return weights, collection, alone
    finally:
        await embedder.close()
        await pool.close()


def test_a_passage_holding_only_the_collections_common_words_does_not_answer(settings):
    weights, collection, alone = asyncio.run(_ask(settings))
    # Rarer in the collection weighs more; a word no chunk holds weighs the most.
    assert weights["oxigêni"] > weights["newcomen"] > weights["tip"] > weights["águ"] > 0
    # "tipo" and "água" are held, "oxigênio" and "dissolve" are not: the collection knows the
    # first two are everywhere, and declines.
    assert collection.shared == 0.5 and not collection.answered
    # Weighed by the four passages alone, "tipo" (in one of them) looked rare.
    assert alone.answered and alone.evidence > collection.evidence


SHELTER_PL = tuple(
    f"W schronisku numer {n} mieszkają koty i psy. Wolontariusze karmią psy rano, a koty "
    "wieczorem, i sprzątają klatki."
    for n in range(6)
) + ("Żyrafy nie mieszkają w schronisku, tylko w ogrodzie zoologicznym w Warszawie.",)


async def _polish_weights(settings) -> dict[str, float]:
    pool = await create_pool(settings.database_url, max_size=2)
    embedder = await load_embedder(settings)
    try:
        corpus = as_corpus("rarity-pl", [Article("Schronisko", SHELTER_PL, ())])
        await ensure_ingested(pool, embedder, corpus)
        retriever = Retriever(pool, embedder)
        retrieval = await retriever.retrieve(
            "Kto karmi koty?", scope=Scope(collection_name(corpus))
        )
        asked = read_question("Kto karmi koty i żyrafy?", "simple")
        return await retriever.rarity(sorted(asked.terms), collection_ids=retrieval.collection_ids)
    finally:
        await embedder.close()
        await pool.close()


def test_a_language_postgresql_does_not_stem_is_looked_up_unstemmed(settings):
    """Polish is indexed under `simple` (no stemming): English suffix rules made "koty"
    "koti", which no chunk holds, so the collection's commonest word weighed as the rarest."""
    assert text_search_config(SHELTER_PL[0]) == "simple"
    weights = asyncio.run(_polish_weights(settings))
    assert set(weights) == {"kto", "karmi", "koty", "żyrafy"}
    assert weights["koty"] < weights["żyrafy"] < weights["kto"]  # kto: in no chunk
