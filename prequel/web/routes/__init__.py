"""Route modules, one concern each; prequel.app includes them."""
