"""Ingestion: accept documents (check, store, queue), then the worker parses, chunks and embeds."""
