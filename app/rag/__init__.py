"""Retrieval-augmented generation: embed, retrieve, answer."""
