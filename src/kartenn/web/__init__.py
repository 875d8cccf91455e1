"""Routers: protocol in, service call, response out."""
