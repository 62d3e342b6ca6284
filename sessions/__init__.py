"""Trading sessions: the firm trading on its own, bar after bar, on a live or replayed clock."""
