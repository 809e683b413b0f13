"""The valuegrad command line (`valuegrad demo|graph|bench`)."""
