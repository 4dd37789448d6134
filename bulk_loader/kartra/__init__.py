"""Talking to Kartra: the API client, its form encoding, its answers and its clock."""
