"""Shared core: settings and logging. Everything else imports from here, never the reverse."""
