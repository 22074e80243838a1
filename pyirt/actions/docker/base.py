"""What every docker action shares: its engine, a client, and the containers it names."""

from __future__ import annotations

from typing import Any

from pyirt.actions.api import Action, ActionContext
from pyirt.actions.docker import engine as engine_mod
from pyirt.actions.docker import targets


class DockerAction(Action):
    def connect(self, params: dict[str, Any], ctx: ActionContext) -> tuple[engine_mod.Engine, Any]:
        engine = engine_mod.engine_for(ctx.provider("docker"), params.get("host"))
        return engine, engine_mod.client(engine)

    def containers(self, params: dict[str, Any], ctx: ActionContext) -> tuple[engine_mod.Engine, Any, list[Any]]:
        engine, client = self.connect(params, ctx)
        return engine, client, targets.resolve(client, engine, params)
