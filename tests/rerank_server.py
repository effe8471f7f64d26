"""A /rerank server (TEI's API) around a CrossEncoder: `uvicorn tests.rerank_server:app`.

RERANK_MODEL names the model directory. Run as a second process by the reranker tests.
"""

import os

from sentence_transformers import CrossEncoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

model = CrossEncoder(os.environ["RERANK_MODEL"], device="cpu")


async def rerank(request: Request) -> JSONResponse:
    body = await request.json()
    texts = body.get("texts") or body["documents"]
    scores = model.predict([(body["query"], t) for t in texts], show_progress_bar=False)
    ranked = sorted(range(len(texts)), key=lambda i: -scores[i])
    return JSONResponse([{"index": i, "score": float(scores[i])} for i in ranked])


app = Starlette(routes=[Route("/rerank", rerank, methods=["POST"])])
