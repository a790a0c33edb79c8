"""HTTP layer: Flask app factory, one blueprint per service, waitress runner."""
