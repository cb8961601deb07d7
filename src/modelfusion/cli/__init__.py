"""Command line: typer commands that parse, call the API, and render with rich. No logic here."""
