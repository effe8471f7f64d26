"""AI RAG website: upload documents, ask questions, get cited answers."""
