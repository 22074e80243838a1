"""pyirt: incident-response runbook automation (the ``irt`` command).

Layers, one direction only: ``cli -> engine -> core``. ``core`` is pure (model, parsing,
templating, journal format); ``engine`` runs a runbook and writes the journal; ``actions`` are
adapters at the edge, registered through the ``pyirt.actions`` entry-point group.
"""

__version__ = "0.1.0"
