"""Retrieval evaluation on BEIR-format datasets: `python -m app eval DATASET_DIR`."""
