"""Docker actions, on the Docker Engine API through the ``docker`` SDK (the ``docker`` extra).

This module only names the actions; the SDK is imported when one of them runs.
"""

from pyirt.actions.docker.collect import Inspect, Logs, Stats
from pyirt.actions.docker.control import Isolate, Rejoin, Restart, Update

ACTIONS = [Logs, Stats, Inspect, Update, Restart, Isolate, Rejoin]
