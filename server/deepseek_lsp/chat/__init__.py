"""Chat sessions: storage, history, commands and transcripts (pure; no pygls here)."""
