"""Services: the domain logic between the web/CLI layer and the stores."""
