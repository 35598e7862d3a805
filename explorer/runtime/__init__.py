"""Work off the GUI thread: the training worker and its session handle, the file I/O thread, the IWAE estimate,
the messages they send, and the thread helper they all use."""
