"""Cloud Run actions, on the Cloud Run Admin API v2 through ``google-cloud-run`` (the ``gcp`` extra).

This module only names the actions; the SDK is imported when one of them runs.
"""

from pyirt.actions.cloudrun.actions import Rollback, SetTraffic, Status

ACTIONS = [Status, Rollback, SetTraffic]
