"""Static JS and CSS of the reviewer console, served under /console/static (shipped as package data)."""
