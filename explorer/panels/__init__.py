"""The window's panels, one per file: each draws what it is given and talks through its own documented signals."""
