"""Actions: the adapters at the edge. Each module registers its actions through the
``pyirt.actions`` entry-point group, exactly as a third-party plugin does.

Action modules must stay cheap to import (``irt actions list`` imports them all): an SDK is
imported inside the method that calls it.
"""

from pyirt.actions.api import Action, ActionContext, UndoCall

__all__ = ["Action", "ActionContext", "UndoCall"]
