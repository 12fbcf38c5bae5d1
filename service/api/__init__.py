"""HTTP adapters: one router per API family, translating requests to the moderation core and back."""
