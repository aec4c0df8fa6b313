"""The postbacks admin, a module a subject; importing them registers their admins.

- endpoints: event types and postback endpoints (preview, test postbacks, Set live, health)
- endpoint_changes: how those pages save a change (a live endpoint's is tested first)
- records: conversions, deliveries and attempts, viewed and replayed, never edited
- attribution: the Attribute page of an unattributed conversion (used by records)
- replay: who may replay deliveries, and what the manager is told
- site: the dashboard on the admin's front page
- tokens: API tokens, seen and revoked

The tools these share with the other apps' admins are in config/admin_tools.py.
"""

from postbacks.admin import endpoints, records, site, tokens

__all__ = ["endpoints", "records", "site", "tokens"]
