"""Notification actions: Slack, Microsoft Teams, PagerDuty, a signed generic webhook and email.

Each speaks its service's own wire format over ``httpx`` (or ``smtplib``), with a timeout on
every call, bounded retries on 429 / 5xx / connection errors and the channel's ``fallback`` list
when it still fails. A failed notification fails its step with ``on_failure: continue`` unless the
runbook says otherwise: telling people never stops the mitigation.

This module only names the actions; ``httpx`` is imported when one of them sends.
"""

from pyirt.actions.notify.pagerduty import PagerDuty
from pyirt.actions.notify.slack import Slack
from pyirt.actions.notify.smtp import Email
from pyirt.actions.notify.teams import Teams
from pyirt.actions.notify.webhook import Webhook

ACTIONS = [Slack, Teams, PagerDuty, Webhook, Email]
