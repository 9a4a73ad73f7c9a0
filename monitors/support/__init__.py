"""Shared helpers with no product logic: safe text for chat formats, retries, rate limits, embeddings, cron."""
