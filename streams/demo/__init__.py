"""The main job: what a newcomer runs first (`make demo`)."""
