"""Real-time: the event bus that fans status changes out, and the SSE streams."""
