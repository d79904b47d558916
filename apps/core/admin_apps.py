"""The admin app config that installs the portal's admin site (its own module: an apps.py with a
second AppConfig would stop Django from picking CoreConfig automatically)."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """django.contrib.admin with the portal's site (header, staff links, OTP for finance checkers)."""

    default_site = "apps.core.admin_site.PortalAdminSite"
