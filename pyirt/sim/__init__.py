"""Simulators of the backends pyirt acts on, for tests, drills and demos: public API.

Each simulator speaks the real wire protocol on 127.0.0.1, so the official SDKs run against it
unchanged; its state comes from a ``kind: World`` document and faults can be injected while it runs.
Modules import only the standard library (and pyirt.core), never an SDK.
"""
