"""Array backends. ``base.py`` holds the contract; each other module serves one device type."""
