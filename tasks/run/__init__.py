"""The run's plumbing: its folder and manifest, its configuration and the settings files that set it."""
