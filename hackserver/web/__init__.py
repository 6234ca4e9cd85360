"""HTTP and websocket routes: thin adapters from requests to the domain and back."""

MACHINE_PATHS = ("/api/", "/slack/", "/discord/")  # whoever calls these reads JSON, also when refused
