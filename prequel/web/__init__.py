"""HTTP layer: routes, templates, static files."""
