"""Text tools shared by ingestion and answering (sentence splitting)."""
