"""Bulk import of catalog files into draft releases (COPY → staging → set-based SQL → merge)."""
