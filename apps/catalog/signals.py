"""Signals other apps listen to (connected in their AppConfig.ready), sent after commit."""

from django.dispatch import Signal

# sender=CatalogRelease, release=<CatalogRelease>; sent once the publishing transaction commits.
release_published = Signal()

# sender=CatalogRelease, release=<CatalogRelease>; sent INSIDE the publishing transaction, so a
# listener's writes (the notices app's outbox) commit or roll back with the publish.
release_publishing = Signal()
