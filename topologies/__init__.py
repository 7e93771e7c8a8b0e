"""How it flows: faust apps and agents, thin (decode -> domain decision -> route)."""
