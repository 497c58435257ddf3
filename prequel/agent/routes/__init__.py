"""One module per concern; each exposes `routes`, a list of Starlette routes, and
prequel.agent.app.ROUTE_MODULES lists the modules the app serves."""
