"""The window's state, one owner each: Qt objects with documented sig_* signals and no widgets.

Panels take the models they show in `__init__` and subscribe to them (napari's components): a panel never
keeps a copy of a model's state, and tests of a model build no window.
"""
