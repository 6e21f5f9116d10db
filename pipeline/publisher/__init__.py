"""Deploy-time custom resource that publishes the pipeline artifacts (see app.py)."""
