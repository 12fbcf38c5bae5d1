"""The moderation core: knows models, policies and explanations; knows nothing about HTTP."""
