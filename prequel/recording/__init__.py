"""The portal's side of recording: collecting each workspace's events, storing them once and
in order, replaying them, exporting them (docs/recording-format.md)."""
