"""File > ...: opening and saving runs, datasets, exports, preferences and the settings the window remembers."""
