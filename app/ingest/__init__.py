"""Ingestion: parse uploaded files, split them into chunks, and the worker that runs the jobs."""
