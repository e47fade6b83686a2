"""Shadows PasteDeploy's `paste` namespace (see ../sitecustomize.py)."""
