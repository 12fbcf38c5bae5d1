"""The threadguard moderation service: one moderation core and thin HTTP adapters over it."""
