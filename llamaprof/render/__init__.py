"""Renderers: turn summaries into the text, CSV and JSON that `nsys stats` prints."""
