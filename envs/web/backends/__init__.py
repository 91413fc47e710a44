"""Browser backends that load the sites: in-process text and Chromium."""
