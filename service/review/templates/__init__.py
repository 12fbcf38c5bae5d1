"""Jinja2 templates of the reviewer console (a package only so that installers ship the files)."""
