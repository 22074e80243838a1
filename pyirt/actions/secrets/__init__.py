"""Secret rotation: ``secrets.rotate``, ``secrets.promote``, ``secrets.revoke`` and ``secrets.status``
over GCP Secret Manager (the ``gcp`` extra), AWS Secrets Manager (``aws``), Azure Key Vault
(``azure``) and a local file store.

This module only names the actions; a provider's SDK is imported when a step uses it.
"""

from pyirt.actions.secrets.actions import Promote, Revoke, Rotate
from pyirt.actions.secrets.status import Status

ACTIONS = [Rotate, Promote, Revoke, Status]
