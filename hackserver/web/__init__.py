"""HTTP and websocket routes: thin adapters from requests to the domain and back."""
