"""Signals other apps listen to (connected in their AppConfig.ready), sent after commit."""

from django.dispatch import Signal

# sender=CatalogRelease, release=<CatalogRelease>; sent once the publishing transaction commits.
release_published = Signal()
