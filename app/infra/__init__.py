"""Infrastructure that knows nothing of RAG: event loop, HTTP/1.1 transport, SSE, GC, LISTEN."""
