"""Engine adapters. ``base`` defines the protocol and the observed-state values; ``docker``
is the only module in envkit that imports the docker SDK."""
