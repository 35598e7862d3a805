"""The window's composition: MainWindow, its menus and actions, the file and run controllers, the status bar.

Everything here is wiring: the state lives in explorer.models, the drawing in explorer.panels, the threads in
explorer.runtime. Objects get what they use in their constructors; only MainWindow holds them all.
"""
